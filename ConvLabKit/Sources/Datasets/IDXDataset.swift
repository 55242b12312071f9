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

    /// The sample shape and class count, for validation: reads every header and streams every
    /// file once (the decompressed length for gzip) without holding the images, so a data set
    /// that `load` would refuse is refused here with the same message, before a run starts.
    public static func describe(directory: String) throws(DatasetError) -> (shape: Shape, classes: Int) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(file: directory, problem: "no such folder",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set dataset.path to a folder of IDX files")
        }
        var shapes: [Shape] = []
        var largest: UInt8 = 0
        for prefix in ["train", "t10k"] {
            let imagePath = locate(directory, "\(prefix)-images-idx3-ubyte")
            let labelPath = locate(directory, "\(prefix)-labels-idx1-ubyte")
            let images = try IDXReader.inspect(imagePath)
            let labels = try IDXReader.inspect(labelPath, maximum: true)
            shapes.append(try checkPair(prefix: prefix, imagePath: imagePath, images: images.dimensions, labelPath: labelPath, labels: labels.dimensions))
            largest = max(largest, labels.maximum ?? 0)
        }
        guard shapes[0] == shapes[1] else {
            throw DatasetError(file: directory, problem: "train images are \(shapes[0]), test images \(shapes[1])")
        }
        return (shapes[0], Int(largest) + 1)
    }

    /// The checks `describe` and `load` share: ranks, image size, counts. Returns the sample shape.
    static func checkPair(prefix: String, imagePath: String, images: [Int], labelPath: String, labels: [Int]) throws(DatasetError) -> Shape {
        guard images.count == 3 else {
            throw DatasetError(file: imagePath, problem: "expected 3 dimensions (count, rows, columns), found \(images.count)")
        }
        guard labels.count == 1 else {
            throw DatasetError(file: labelPath, problem: "expected 1 dimension (count), found \(labels.count)")
        }
        guard images[1] >= 1, images[2] >= 1 else {
            throw DatasetError(file: imagePath, problem: "its images are \(images[1])×\(images[2]) pixels; an image needs at least 1×1")
        }
        guard images[0] == labels[0] else {
            throw DatasetError(file: labelPath, problem: "holds \(labels[0]) labels but \(imagePath) holds \(images[0]) images",
                               hint: "the two files must come from the same data set")
        }
        guard images[0] >= 1 else {
            throw DatasetError(file: imagePath, problem: "holds no images (its header says 0)",
                               hint: "the \(prefix == "train" ? "training" : "test") set needs at least one")
        }
        return Shape(channels: 1, height: images[1], width: images[2])
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
        let shape = try checkPair(prefix: prefix, imagePath: imagePath, images: images.dimensions, labelPath: labelPath, labels: labels.dimensions)
        let count = min(images.dimensions[0], limit ?? .max)
        // The bytes themselves (normalised through a table when batches are gathered).
        var pixels = images.bytes
        if pixels.count > count * shape.count { pixels = Array(pixels[0..<(count * shape.count)]) }
        let classLabels = labels.bytes[0..<count].map { Int32($0) }
        let classes = Int(labels.bytes.max() ?? 0) + 1
        return LabeledImages(sampleShape: shape, pixels: pixels, labels: classLabels, classes: classes)
    }
}
