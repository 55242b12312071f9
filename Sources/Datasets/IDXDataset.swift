import ConvCore
import Foundation

/// MNIST-format data sets on disk: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`.
public enum IDXDataset {
    /// Debian's dataset-fashion-mnist installs here.
    public static let defaultPath = "/usr/share/datasets/fashion-mnist"

    public static func load(directory: String, trainLimit: Int? = nil, testLimit: Int? = nil,
                            normalization: Normalization = .scale) throws(DatasetError) -> DatasetSplit {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(file: directory, problem: "no such folder",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set dataset.path to a folder of IDX files")
        }
        var split = DatasetSplit(
            train: try loadPair(directory: directory, prefix: "train", limit: trainLimit),
            test: try loadPair(directory: directory, prefix: "t10k", limit: testLimit))
        guard split.train.sampleShape == split.test.sampleShape else {
            throw DatasetError(file: directory, problem: "train images are \(split.train.sampleShape), test images \(split.test.sampleShape)")
        }
        let classes = max(split.train.classes, split.test.classes)
        split.train.classes = classes
        split.test.classes = classes
        normalization.apply(to: &split, rawMaximum: 255)
        return split
    }

    /// The sample shape and class count, reading the image header and the training labels only.
    public static func describe(directory: String) throws(DatasetError) -> (shape: Shape, classes: Int) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(file: directory, problem: "no such folder",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set dataset.path to a folder of IDX files")
        }
        let imagePath = locate(directory, "train-images-idx3-ubyte")
        let dimensions = try IDXReader.dimensions(imagePath)
        guard dimensions.count == 3 else {
            throw DatasetError(file: imagePath, problem: "expected 3 dimensions (count, rows, columns), found \(dimensions.count)")
        }
        let labels = try IDXReader.read(locate(directory, "train-labels-idx1-ubyte"))
        return (Shape(channels: 1, height: dimensions[1], width: dimensions[2]), Int(labels.bytes.max() ?? 0) + 1)
    }

    /// `name` or `name.gz`, whichever exists (the compressed one when neither does, for the message).
    static func locate(_ directory: String, _ name: String) -> String {
        let raw = (directory as NSString).appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: raw) ? raw : raw + ".gz"
    }

    static func loadPair(directory: String, prefix: String, limit: Int?) throws(DatasetError) -> LabeledImages {
        let imagePath = locate(directory, "\(prefix)-images-idx3-ubyte")
        let labelPath = locate(directory, "\(prefix)-labels-idx1-ubyte")
        let images = try IDXReader.read(imagePath)
        let labels = try IDXReader.read(labelPath)
        guard images.dimensions.count == 3 else {
            throw DatasetError(file: imagePath, problem: "expected 3 dimensions (count, rows, columns), found \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw DatasetError(file: labelPath, problem: "expected 1 dimension (count), found \(labels.dimensions.count)")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError(file: labelPath, problem: "holds \(labels.dimensions[0]) labels but \(imagePath) holds \(images.dimensions[0]) images",
                               hint: "the two files must come from the same data set")
        }
        let count = min(images.dimensions[0], limit ?? .max)
        let shape = Shape(channels: 1, height: images.dimensions[1], width: images.dimensions[2])
        let pixels = images.bytes[0..<(count * shape.count)].map(Float.init)
        let classLabels = labels.bytes[0..<count].map { Int32($0) }
        let classes = Int(labels.bytes.max() ?? 0) + 1
        return LabeledImages(sampleShape: shape, images: pixels, labels: classLabels, classes: classes)
    }
}
