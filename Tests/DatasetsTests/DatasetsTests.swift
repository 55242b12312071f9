import ConvCore
import CZlib
import Foundation
import Testing
import TestSupport
@testable import Datasets

/// A fresh folder for one test's files.
func temporaryFolder() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-data-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The bytes of an IDX file of unsigned bytes.
func idx(_ dimensions: [Int], _ values: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
    for d in dimensions { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + values
}

func write(_ bytes: [UInt8], to path: String, gzip: Bool) {
    if gzip {
        let file = gzopen(path, "wb")
        bytes.withUnsafeBytes { _ = gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        gzclose(file)
    } else {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
}

/// Writes a tiny MNIST-format data set: `train` and `test` images of 2×3 pixels.
func writeDataset(train: Int = 5, test: Int = 2, gzip: Bool) -> String {
    let folder = temporaryFolder()
    let suffix = gzip ? ".gz" : ""
    for (prefix, count) in [("train", train), ("t10k", test)] {
        write(idx([count, 2, 3], (0..<(count * 6)).map { UInt8($0 % 256) }), to: "\(folder)/\(prefix)-images-idx3-ubyte\(suffix)", gzip: gzip)
        write(idx([count], (0..<count).map { UInt8($0 % 3) }), to: "\(folder)/\(prefix)-labels-idx1-ubyte\(suffix)", gzip: gzip)
    }
    return folder
}

@Suite("IDX data sets")
struct IDXTests {
    @Test("gzip and raw files read the same", arguments: [true, false])
    func readsBothEncodings(gzip: Bool) throws {
        let split = try IDXDataset.load(directory: writeDataset(gzip: gzip), normalization: .none)
        #expect(split.train.count == 5 && split.test.count == 2)
        #expect(split.train.sampleShape == Shape(channels: 1, height: 2, width: 3))
        #expect(Array(split.train.images.prefix(7)) == [0, 1, 2, 3, 4, 5, 6])
        #expect(split.train.labels == [0, 1, 2, 0, 1])
        #expect(split.train.classes == 3)
    }

    @Test("limits and normalisation")
    func limitsAndScaling() throws {
        let split = try IDXDataset.load(directory: writeDataset(gzip: true), trainLimit: 3, testLimit: 1, normalization: .scale)
        #expect(split.train.count == 3 && split.test.count == 1)
        #expect(split.train.images[6] == Float(6) * (1 / 255))   // the scaling multiplies by 1/255
        let standardized = try IDXDataset.load(directory: writeDataset(gzip: true), normalization: .standardize)
        let mean = standardized.train.images.reduce(0, +) / Float(standardized.train.images.count)
        #expect(abs(mean) < 1e-5)   // zero mean over the training images, up to Float32 rounding
    }

    @Test("a missing folder or file names it and says how to get the data")
    func missing() {
        #expect {
            _ = try IDXDataset.load(directory: "/nonexistent-convlab")
        } throws: { error in
            "\(error)" == "/nonexistent-convlab: no such folder; install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set dataset.path to a folder of IDX files"
        }
        let folder = writeDataset(gzip: true)
        try? FileManager.default.removeItem(atPath: folder + "/t10k-labels-idx1-ubyte.gz")
        #expect {
            _ = try IDXDataset.load(directory: folder)
        } throws: { error in
            "\(error)".hasPrefix("\(folder)/t10k-labels-idx1-ubyte.gz: no such file")
        }
    }

    @Test("a wrong magic number is named with the bytes found")
    func wrongMagic() {
        let folder = writeDataset(gzip: false)
        write([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0], to: folder + "/train-images-idx3-ubyte", gzip: false)
        #expect {
            _ = try IDXDataset.load(directory: folder)
        } throws: { error in
            "\(error)" == "\(folder)/train-images-idx3-ubyte: not an IDX file of unsigned bytes (magic 50 4b 03 04, expected 00 00 08 0N)"
        }
    }

    @Test("a truncated file says how much is missing")
    func truncated() {
        let folder = writeDataset(gzip: true)
        write(idx([5, 2, 3], Array(repeating: 1, count: 20)), to: folder + "/train-images-idx3-ubyte.gz", gzip: true)
        #expect {
            _ = try IDXDataset.load(directory: folder)
        } throws: { error in
            "\(error)".contains("train-images-idx3-ubyte.gz: truncated: the header promises 30 bytes of data (5×2×3), the file holds 20")
        }
    }

    @Test("absurd header sizes are an error, not an overflow")
    func absurdHeader() {
        let folder = writeDataset(gzip: false)
        write([0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2], to: folder + "/train-images-idx3-ubyte", gzip: false)
        #expect {
            _ = try IDXDataset.load(directory: folder)
        } throws: { error in
            "\(error)".contains("the header's sizes (4294967295×4294967295×4294967295) are impossible for an IDX file")
        }
    }

    @Test("image and label counts must agree")
    func countMismatch() {
        let folder = writeDataset(gzip: true)
        write(idx([4], [0, 1, 2, 0]), to: folder + "/train-labels-idx1-ubyte.gz", gzip: true)
        #expect {
            _ = try IDXDataset.load(directory: folder)
        } throws: { error in
            "\(error)".contains("train-labels-idx1-ubyte.gz: holds 4 labels but \(folder)/train-images-idx3-ubyte.gz holds 5 images")
        }
    }

    @Test("corrupt gzip data is an error, not a crash")
    func corruptGzip() {
        let folder = writeDataset(gzip: true)
        write([0x1F, 0x8B, 0x08, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x03, 0x01, 0x02, 0x03], to: folder + "/train-images-idx3-ubyte.gz", gzip: false)
        #expect(throws: DatasetError.self) { _ = try IDXDataset.load(directory: folder) }
    }

    @Test("Debian's Fashion-MNIST loads: 60,000 + 10,000 images of 28×28, 10 classes",
          .enabled(if: availableOrRequiredInCI(FileManager.default.fileExists(atPath: IDXDataset.defaultPath))))
    func fashionMNIST() throws {
        let split = try IDXDataset.load(directory: IDXDataset.defaultPath)
        #expect(split.train.count == 60_000 && split.test.count == 10_000)
        #expect(split.train.sampleShape == Shape(channels: 1, height: 28, width: 28) && split.train.classes == 10)
        #expect(split.train.images.allSatisfy { $0 >= 0 && $0 <= 1 })
        let described = try IDXDataset.describe(directory: IDXDataset.defaultPath)
        #expect(described.shape == split.train.sampleShape && described.classes == 10)
    }
}

@Suite("Synthetic data and batching")
struct SyntheticAndBatchingTests {
    @Test("synthetic data is a function of the seed")
    func syntheticDeterministic() {
        let a = SyntheticDataset.make(seed: 1, trainCount: 50, testCount: 10)
        let b = SyntheticDataset.make(seed: 1, trainCount: 50, testCount: 10)
        let c = SyntheticDataset.make(seed: 2, trainCount: 50, testCount: 10)
        #expect(a.train.images == b.train.images && a.train.labels == b.train.labels)
        #expect(a.train.images != c.train.images)
        #expect(Set(a.train.labels).count == 4)
    }

    @Test("each epoch visits every sample once, in an order fixed by seed and epoch")
    func epochsArePermutations() {
        let data = SyntheticDataset.make(seed: 1, trainCount: 70, testCount: 1).train
        let sampler = BatchSampler(data: data, batchSize: 16, shuffle: true, seed: 9)
        #expect(sampler.batchesPerEpoch == 5)
        let first = sampler.order(epoch: 1)
        #expect(first.sorted() == Array(0..<70))
        #expect(first == BatchSampler(data: data, batchSize: 16, shuffle: true, seed: 9).order(epoch: 1))
        #expect(first != sampler.order(epoch: 2))
        #expect(BatchSampler(data: data, batchSize: 16, shuffle: false, seed: 9).order(epoch: 3) == Array(0..<70))
    }

    @Test("a gathered batch holds the samples of its slice of the order, the last one short")
    func gather() {
        let data = SyntheticDataset.make(seed: 1, trainCount: 20, testCount: 1, size: 6).train
        var sampler = BatchSampler(data: data, batchSize: 8, shuffle: true, seed: 3)
        let order = sampler.order(epoch: 1)
        #expect(sampler.gather(2, of: order) == 4)
        let size = data.sampleShape.count
        for k in 0..<4 {
            let sample = order[16 + k]
            #expect(Array(sampler.images[(k * size)..<((k + 1) * size)]) == Array(data.images[(sample * size)..<((sample + 1) * size)]))
            #expect(sampler.labels[k] == data.labels[sample])
        }
    }

    @Test("a validation split is disjoint from training and of the asked size")
    func validationSplit() {
        let data = SyntheticDataset.make(seed: 1, trainCount: 100, testCount: 1).train
        let (train, validation) = data.splitValidation(fraction: 0.2, seed: 4)
        #expect(train.count == 80 && validation.count == 20)
    }
}
