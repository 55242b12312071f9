import Foundation
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// A small valid spec, one key per line, that the cases below edit.
let hostileBase = """
{
  "name": "h",
  "dataset": {"plugin": "synthetic", "train_size": 32, "test_size": 8, "size": 8, "classes": 3},
  "model": {"layers": [{"conv": {"filters": 2, "kernel": 3}}, {"flatten": {}}, {"dense": {"units": 3}}]},
  "training": {"epochs": 1}
}
"""

struct HostileValue: CustomTestStringConvertible, Sendable {
    var replace: String
    var with: String
    /// Where the error must point: the first occurrence of this text after the edit.
    var at: String
    var path: String
    var message: String
    var testDescription: String { with }
}

@Suite("Hostile values: wrong types, ranges and matrices are refused with the exact message, path and position")
struct HostileValueTests {
    static let cases: [HostileValue] = [
        // Types.
        HostileValue(replace: #""name": "h""#, with: #""name": 5"#, at: "5", path: "name", message: "must be a string, got 5"),
        HostileValue(replace: #""name": "h""#, with: #""name": null"#, at: "null", path: "name", message: "must be a string, got null"),
        HostileValue(replace: #""kernel": 3"#, with: #""kernel": true"#, at: "true", path: "model.layers[0].conv.kernel",
                     message: "must be an integer in [1, 4096] or [height, width] of such integers, got true"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": []"#, at: "[]", path: "training", message: "must be an object, got an array"),
        HostileValue(replace: #""plugin": "synthetic""#, with: #""plugin": 7"#, at: "{\"plugin\": 7", path: "dataset",
                     message: "names no plugin: add \"plugin\": one of idx, synthetic"),
        HostileValue(replace: #"{"flatten": {}}"#, with: #"{"flatten": {}, "dense": {}}"#, at: "{\"flatten\"", path: "model.layers[1]",
                     message: "a layer is an object with exactly one key, its kind (conv, pool, dense, activation, flatten, dropout), e.g. {\"conv\": {\"filters\": 6, \"kernel\": 5}}"),
        // Ranges and sizes.
        HostileValue(replace: #""epochs": 1"#, with: #""epochs": 1e15"#, at: "1e15", path: "training.epochs", message: "must be an integer ≤ 100000, got 1000000000000000.0"),
        HostileValue(replace: #""epochs": 1"#, with: #""epochs": 1e300"#, at: "1e300", path: "training.epochs", message: "must be an integer in [1, 100000], got 1e+300"),
        HostileValue(replace: #""epochs": 1"#, with: #""epochs": -0"#, at: "-0", path: "training.epochs", message: "must be an integer ≥ 1, got 0"),
        HostileValue(replace: #""filters": 2"#, with: #""filters": 2.5"#, at: "2.5", path: "model.layers[0].conv.filters", message: "must be an integer"),
        HostileValue(replace: #""kernel": 3"#, with: #""kernel": [3]"#, at: "[3]", path: "model.layers[0].conv.kernel", message: "must be an integer in [1, 4096] or [height, width] of such integers, got an array"),
        HostileValue(replace: #""kernel": 3"#, with: #""kernel": [3, 3, 3]"#, at: "[3, 3, 3]", path: "model.layers[0].conv.kernel", message: "or [height, width] of such integers, got an array"),
        HostileValue(replace: #""kernel": 3"#, with: #""kernel": 4097"#, at: "4097", path: "model.layers[0].conv.kernel", message: "must be an integer in [1, 4096] or [height, width] of such integers, got 4097"),
        HostileValue(replace: #""classes": 3"#, with: #""classes": 7"#, at: "7", path: "dataset.classes", message: "must be an integer ≤ 6, got 7"),
        HostileValue(replace: #""model": {"#, with: #""model": {"input": [0, 8, 8], "#, at: "[0, 8, 8]", path: "model.input",
                     message: "must be [channels, height, width] or [features] of integers in [1, 4096], got an array"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "evaluation": {"validation_split": 0.95}"#, at: "0.95",
                     path: "evaluation.validation_split", message: "must be a number in [0, 0.9], got 0.95"),
        // Matrices.
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": []"#, at: "[]", path: "matrix",
                     message: "must be an object of dotted keys to lists, e.g. {\"model.pooling\": [\"max\", \"avg\"], \"seeds\": [1, 2]}"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"seeds": [-1]}"#, at: "[-1]", path: "matrix.seeds",
                     message: "seeds must be integers ≥ 0"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"seeds": [1e300]}"#, at: "[1e300]", path: "matrix.seeds",
                     message: "seeds must be integers ≥ 0"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"model.layers[-1].conv.filters": [1]}"#, at: "[1]",
                     path: "matrix.model.layers[-1].conv.filters", message: "\"model.layers[-1].conv.filters\" is not a dotted key such as \"model.pooling\" or \"model.layers[0].conv.filters\""),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"name": ["a", "b"]}"#, at: "[\"a\"", path: "matrix.name",
                     message: "\"name\" cannot be set by the matrix (the runs of a spec share its name); sections it can set: description, seed, dataset, model, loss, optimizer, training, evaluation, probes"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"training.epochs": 7}"#, at: "7}", path: "matrix.training.epochs",
                     message: "must be a non-empty list of values"),
        HostileValue(replace: #""training": {"epochs": 1}"#, with: #""training": {"epochs": 1}, "matrix": {"training.epochs.x": [1]}"#, at: "1]}", path: "matrix.training.epochs.x",
                     message: "\"x\" cannot be set inside an integer"),
    ]

    @Test("each hostile value", arguments: cases)
    func refused(_ value: HostileValue) throws {
        #expect(hostileBase.contains(value.replace))
        let text = hostileBase.replacingOccurrences(of: value.replace, with: value.with)
        let issues = planIssues(text)
        let issue = try #require(issues.first { $0.path == value.path }, "\(issues)")
        #expect(issue.message.contains(value.message), "\(issue.message)")
        let (line, column) = try #require(position(of: value.at, in: text))
        #expect((issue.line, issue.column) == (line, column), "\(issue)")
    }

    @Test("the base spec is valid, so each case fails for its edit alone")
    func baseIsValid() {
        #expect(planIssues(hostileBase).isEmpty)
    }
}

/// A folder of raw IDX files: `train` and `t10k` images of 2×2 pixels with their labels.
func idxFolder(train: Int = 4, trainLabels: Int? = nil, test: Int = 2, truncateTestImages: Bool = false) -> String {
    let folder = (temporaryPath("data") as NSString).deletingLastPathComponent + "/idx"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    func file(_ name: String, _ dimensions: [Int], _ count: Int) {
        var bytes: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        bytes += (0..<count).map { UInt8($0 % 3) }
        _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(bytes))
    }
    file("train-images-idx3-ubyte", [train, 2, 2], train * 4)
    file("train-labels-idx1-ubyte", [trainLabels ?? train], trainLabels ?? train)
    file("t10k-images-idx3-ubyte", [test, 2, 2], truncateTestImages ? test * 4 - 1 : test * 4)
    file("t10k-labels-idx1-ubyte", [test], test)
    return folder
}

@Suite("Broken data is refused by validation, at dataset.path, before anything runs")
struct HostileDataTests {
    func issue(_ folder: String) -> SpecIssue? {
        let text = hostileBase.replacingOccurrences(of: #"{"plugin": "synthetic", "train_size": 32, "test_size": 8, "size": 8, "classes": 3}"#,
                                                    with: "{\"plugin\": \"idx\", \"path\": \"\(folder)\"}")
            .replacingOccurrences(of: #"{"conv": {"filters": 2, "kernel": 3}}, "#, with: "")
        return planIssues(text).first
    }

    @Test("a valid folder validates")
    func valid() {
        #expect(issue(idxFolder()) == nil)
    }

    @Test("labels shorter than images, a truncated file, and no images are each one issue at dataset.path", arguments: [
        (4, 3, 2, false, "train-labels-idx1-ubyte: holds 3 labels but FOLDER/train-images-idx3-ubyte holds 4 images"),
        (4, 4, 2, true, "t10k-images-idx3-ubyte: truncated: the header promises 8 bytes of data (2×2×2), the file holds 7"),
        (0, 0, 2, false, "train-images-idx3-ubyte: holds no images (its header says 0); the training set needs at least one"),
    ])
    func refused(train: Int, labels: Int, test: Int, truncate: Bool, message: String) throws {
        let folder = idxFolder(train: train, trainLabels: labels, test: test, truncateTestImages: truncate)
        let found = try #require(issue(folder))
        #expect(found.path == "dataset.path")
        #expect(found.message.contains(message.replacingOccurrences(of: "FOLDER", with: folder)), "\(found.message)")
        #expect(found.line == 3)
    }
}
