import ConvCore
import CZlib
import Foundation
import Testing
@testable import Datasets

/// The gzip bytes of `bytes`, as gzwrite makes them.
func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let path = temporaryFolder() + "/x.gz"
    write(bytes, to: path, gzip: true)
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// One corruption of the tiny data set: the file it replaces and the bytes it writes there.
struct Corruption: CustomTestStringConvertible, Sendable {
    var name: String
    var file: String
    var bytes: @Sendable () throws -> [UInt8]
    var fragment: String
    var testDescription: String { name }
}

@Suite("Validation reads IDX headers and sizes: broken data is refused before a run starts")
struct IDXValidationTests {
    static let corruptions: [Corruption] = [
        Corruption(name: "labels shorter than images", file: "train-labels-idx1-ubyte",
                   bytes: { idx([4], [0, 1, 2, 0]) }, fragment: "train-labels-idx1-ubyte: holds 4 labels but FOLDER/train-images-idx3-ubyte holds 5 images"),
        Corruption(name: "test labels shorter than test images", file: "t10k-labels-idx1-ubyte",
                   bytes: { idx([1], [0]) }, fragment: "t10k-labels-idx1-ubyte: holds 1 labels but FOLDER/t10k-images-idx3-ubyte holds 2 images"),
        Corruption(name: "truncated images", file: "train-images-idx3-ubyte",
                   bytes: { idx([5, 2, 3], Array(repeating: 1, count: 20)) }, fragment: "train-images-idx3-ubyte: truncated: the header promises 30 bytes of data (5×2×3), the file holds 20"),
        Corruption(name: "header claims more labels than present", file: "t10k-labels-idx1-ubyte",
                   bytes: { idx([2], [1]) }, fragment: "t10k-labels-idx1-ubyte: truncated: the header promises 2 bytes of data (2), the file holds 1"),
        Corruption(name: "truncated inside the header", file: "train-images-idx3-ubyte",
                   bytes: { [0, 0, 8, 3, 0, 0, 0, 5, 0, 0] }, fragment: "train-images-idx3-ubyte: truncated inside the header"),
        Corruption(name: "empty file", file: "train-images-idx3-ubyte",
                   bytes: { [] }, fragment: "train-images-idx3-ubyte: truncated: 0 bytes, not even an IDX header"),
        Corruption(name: "wrong magic", file: "t10k-images-idx3-ubyte",
                   bytes: { [0, 0, 9, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3] }, fragment: "t10k-images-idx3-ubyte: not an IDX file of unsigned bytes (magic 00 00 09 03, expected 00 00 08 0N)"),
        Corruption(name: "rank 0", file: "train-labels-idx1-ubyte",
                   bytes: { [0, 0, 8, 0] }, fragment: "train-labels-idx1-ubyte: IDX rank 0 is not 1…4"),
        Corruption(name: "images of rank 1", file: "train-images-idx3-ubyte",
                   bytes: { idx([5], [0, 1, 2, 3, 4]) }, fragment: "train-images-idx3-ubyte: expected 3 dimensions (count, rows, columns), found 1"),
        Corruption(name: "labels of rank 2", file: "train-labels-idx1-ubyte",
                   bytes: { idx([5, 1], [0, 1, 2, 0, 1]) }, fragment: "train-labels-idx1-ubyte: expected 1 dimension (count), found 2"),
        Corruption(name: "images of zero rows", file: "train-images-idx3-ubyte",
                   bytes: { idx([5, 0, 3], []) }, fragment: "train-images-idx3-ubyte: its images are 0×3 pixels; an image needs at least 1×1"),
        Corruption(name: "images of zero columns", file: "t10k-images-idx3-ubyte",
                   bytes: { idx([2, 2, 0], []) }, fragment: "t10k-images-idx3-ubyte: its images are 2×0 pixels; an image needs at least 1×1"),
        Corruption(name: "dimensions whose product overflows", file: "train-images-idx3-ubyte",
                   bytes: { [0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2] },
                   fragment: "the header's sizes (4294967295×4294967295×4294967295) are impossible for an IDX file"),
        Corruption(name: "test images of another size", file: "t10k-images-idx3-ubyte",
                   bytes: { idx([2, 3, 3], Array(repeating: 0, count: 18)) }, fragment: "FOLDER: train images are 1×2×3, test images 1×3×3"),
        Corruption(name: "gzip with a corrupt CRC", file: "train-images-idx3-ubyte.gz",
                   bytes: { var b = try gzipped(idx([5, 2, 3], Array(repeating: 7, count: 30))); b[b.count - 8] ^= 0xFF; return b },
                   fragment: "train-images-idx3-ubyte.gz: corrupt gzip data (incorrect data check)"),
        Corruption(name: "gzip stream cut before its trailer", file: "train-labels-idx1-ubyte.gz",
                   bytes: { Array(try gzipped(idx([5], [0, 1, 2, 0, 1])).dropLast(6)) },
                   fragment: "train-labels-idx1-ubyte.gz: the gzip stream ends early (unexpected end of file)"),
        Corruption(name: "gzip stream cut in the middle", file: "t10k-images-idx3-ubyte.gz",
                   bytes: { let b = try gzipped(idx([2, 2, 3], (0..<12).map(UInt8.init))); return Array(b.prefix(b.count / 2)) },
                   fragment: "t10k-images-idx3-ubyte.gz: the gzip stream ends early (unexpected end of file)"),
        Corruption(name: "gzip header and garbage", file: "train-images-idx3-ubyte.gz",
                   bytes: { [0x1F, 0x8B, 0x08, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x03, 0x01, 0x02, 0x03] },
                   fragment: "train-images-idx3-ubyte.gz: the gzip stream ends early (unexpected end of file)"),
    ]

    @Test("validation (describe) refuses each corruption with the message loading gives", arguments: corruptions)
    func describeRefuses(_ corruption: Corruption) throws {
        let gzip = corruption.file.hasSuffix(".gz")
        let folder = writeDataset(gzip: gzip)
        write(try corruption.bytes(), to: folder + "/" + corruption.file, gzip: false)
        let expected = corruption.fragment.replacingOccurrences(of: "FOLDER", with: folder)
        var described: String?
        do { _ = try IDXDataset.describe(directory: folder) } catch { described = error.description }
        #expect(described?.contains(expected) == true, "describe: \(described ?? "no error")")
        var loaded: String?
        do { _ = try IDXDataset.load(directory: folder) } catch { loaded = error.description }
        #expect(loaded == described, "load and describe must agree")
    }

    @Test("a data set with no images says so, raw or gzip", arguments: [false, true])
    func noImages(gzip: Bool) {
        let folder = writeDataset(train: 0, test: 2, gzip: gzip)
        let suffix = gzip ? ".gz" : ""
        #expect {
            _ = try IDXDataset.describe(directory: folder)
        } throws: { error in
            "\(error)" == "\(folder)/train-images-idx3-ubyte\(suffix): holds no images (its header says 0); the training set needs at least one"
        }
    }

    @Test("a test set with no images is refused too")
    func noTestImages() {
        let folder = writeDataset(train: 3, test: 0, gzip: false)
        #expect {
            _ = try IDXDataset.describe(directory: folder)
        } throws: { error in
            "\(error)" == "\(folder)/t10k-images-idx3-ubyte: holds no images (its header says 0); the test set needs at least one"
        }
    }

    @Test("classes count the labels of both halves, as loading does", arguments: [false, true])
    func classesFromBothHalves(gzip: Bool) throws {
        let folder = writeDataset(gzip: gzip)
        write(idx([2], [0, 7]), to: folder + "/t10k-labels-idx1-ubyte" + (gzip ? ".gz" : ""), gzip: gzip)
        let described = try IDXDataset.describe(directory: folder)
        let loaded = try IDXDataset.load(directory: folder)
        #expect(described.classes == 8 && loaded.train.classes == 8)
        #expect(described.shape == loaded.train.sampleShape)
    }

    @Test("random truncations of a valid data set are refused by describe exactly when load refuses them")
    func randomTruncations() throws {
        var state: UInt64 = 11
        func next(_ bound: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(bound)) }
        let files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        for trial in 0..<40 {
            let gzip = trial % 2 == 0
            let folder = writeDataset(gzip: gzip)
            let path = folder + "/" + files[next(4)] + (gzip ? ".gz" : "")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(next(bytes.count))))
            var described: String?, loaded: String?
            do { _ = try IDXDataset.describe(directory: folder) } catch { described = error.description }
            do { _ = try IDXDataset.load(directory: folder) } catch { loaded = error.description }
            #expect(described != nil, "a truncated \(path) passed validation")
            #expect(described == loaded)
        }
    }
}
