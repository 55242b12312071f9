import Foundation
import Testing
@testable import RunStore
import TestSupport

/// The hostile-input suite: specs, data files, command lines, report filters and SQL that a
/// careless or malicious user could hand the runner. Every case asserts the same four things:
/// the process exits by itself (no signal), with the documented exit code, its error names the
/// file and position (or the key, option or value) on one line, and the store it was pointed at
/// is byte-for-byte unchanged.
@Suite("hostile input: no crash, a clear line, the store untouched")
struct HostileInputTests {
    @Test("hostile case", arguments: HostileCase.all)
    func hostile(_ hostile: HostileCase) throws {
        let folder = temporaryFolder()
        let store = folder + "/store.sqlite"
        try FileManager.default.copyItem(atPath: fixtureStore, toPath: store)
        let before = try storeBytes(store)
        for (name, var contents) in hostile.files {
            if name.hasSuffix(".json"), let text = String(data: contents, encoding: .utf8), text.contains("$DIR") {
                contents = Data(text.replacingOccurrences(of: "$DIR", with: folder).utf8)
            }
            let path = folder + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: contents)
        }
        let context = HostileCase.Context(folder: folder, store: store)
        var commandLines = [hostile.arguments(context)]
        // A spec that `validate` refuses must be refused the same way by `exec` before it touches
        // the store it is pointed at: that is where "the store unchanged" can fail.
        if commandLines[0].first == "validate" {
            commandLines.append(["exec"] + commandLines[0].dropFirst() + ["--store", store, "--quiet"])
        }
        for arguments in commandLines {
            try check(hostile, arguments, folder: folder)
        }
        let unchanged = try storeBytes(store) == before     // (a Bool, so a failure does not print both files)
        #expect(unchanged, "\(hostile.name): the store changed")
    }

    func check(_ hostile: HostileCase, _ arguments: [String], folder: String) throws {
        let name = "\(hostile.name) (\(arguments[0]))"
        // A regression here must fail the test, not take the machine down with it: each runner
        // gets 4 GB of address space and two minutes.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v 4000000; exec \"$0\" \"$@\"", runnerPath] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CONVLAB_STORE")
        environment["COLUMNS"] = "200"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, out, err)
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        let result = finish((process, out, err))
        watchdog.cancel()

        #expect(process.terminationReason == .exit, "\(name): killed by signal \(result.status)")
        #expect(result.status == hostile.exitCode, "\(name): exit \(result.status)\n\(result.stderr)")
        // Whatever the input held, no raw escape character reaches the terminal.
        #expect(!(result.stdout + result.stderr).unicodeScalars.contains("\u{1B}"), "\(name): a raw ESC in the output")
        let fragments = hostile.fragments.map { $0.replacingOccurrences(of: "$DIR", with: folder) }
        let output = hostile.exitCode == 0 ? result.stdout : result.stderr
        let lines = output.split(separator: "\n").map(String.init)
        let line = lines.first { line in fragments.allSatisfy { line.contains($0) } }
        #expect(line != nil, "\(name): no line holds all of \(fragments):\n\(output)")
        if hostile.exitCode != 0 {
            // One problem, one line: the rest of standard error is at most a hint or the usage.
            let problems = lines.filter { !$0.hasPrefix("(") && !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.hasPrefix("  See ") && !$0.isEmpty }
            #expect(problems.count == 1, "\(name): expected one line of error, got:\n\(result.stderr)")
        }
    }
}

extension HostileInputTests {
    @Test("a finished exec leaves its whole store in the one file (the WAL folded in), so copying the file copies the runs")
    func storeIsWhole() throws {
        let wal = FileManager.default.contents(atPath: fixtureStore + "-wal") ?? Data()
        #expect(wal.isEmpty, "exec left \(wal.count) bytes in the WAL")
        #expect(try scalar(fixtureStore, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(1))
    }
}

/// A store with one small completed run, made once by a real `runner exec`.
let fixtureStore: String = {
    let folder = temporaryFolder()
    let store = folder + "/fixture.sqlite"
    let result = try? runner("exec", writeSpec(folder, epochs: 1, trainSize: 64), "--store", store, "--quiet")
    precondition(result?.status == 0, "could not build the fixture store: \(result?.stderr ?? "runner did not start")")
    return store
}()

struct HostileCase: Sendable, CustomTestStringConvertible {
    struct Context { var folder: String, store: String }

    var name: String
    var files: [String: Data] = [:]
    var arguments: @Sendable (Context) -> [String]
    var exitCode: Int32 = 2
    /// Fragments that must all stand on one line of standard error (standard output for exit 0).
    /// `$DIR` is the case's folder.
    var fragments: [String]

    var testDescription: String { name }

    /// A spec file with the given text, validated (`validate`) or run (`exec` on the store).
    static func spec(_ name: String, _ text: String, command: String = "validate", _ fragments: String...) -> HostileCase {
        spec(name, Data(text.utf8), command: command, fragments)
    }

    static func spec(_ name: String, _ bytes: Data, command: String = "validate", _ fragments: [String]) -> HostileCase {
        HostileCase(name: name, files: ["spec.json": bytes], arguments: { context in
            command == "validate" ? ["validate", context.folder + "/spec.json"]
                                  : [command, context.folder + "/spec.json", "--store", context.store, "--quiet"]
        }, fragments: fragments)
    }

    /// The tiny synthetic spec with one part replaced: `"key": value` pairs spliced over the base.
    static func variant(_ name: String, replacing original: String, with replacement: String, command: String = "validate",
                        _ fragments: String...) -> HostileCase {
        let text = baseSpec.replacingOccurrences(of: original, with: replacement)
        precondition(text != baseSpec, "\(name): \(original) is not in the base spec")
        return spec(name, Data(text.utf8), command: command, fragments)
    }

    /// A spec on IDX files in `data/` (train and t10k), broken in one way.
    static func data(_ name: String, _ files: [String: Data], command: String = "validate", _ fragments: String...) -> HostileCase {
        var all = files.reduce(into: [String: Data]()) { $0["data/" + $1.key] = $1.value }
        all["spec.json"] = Data(idxSpec.utf8)
        return HostileCase(name: name, files: all, arguments: { context in
            command == "validate" ? ["validate", context.folder + "/spec.json"]
                                  : [command, context.folder + "/spec.json", "--store", context.store, "--quiet"]
        }, fragments: fragments)
    }

    static func command(_ name: String, exit: Int32 = 2, _ arguments: @escaping @Sendable (Context) -> [String],
                        _ fragments: String...) -> HostileCase {
        HostileCase(name: name, arguments: arguments, exitCode: exit, fragments: fragments)
    }

    static func sql(_ name: String, _ query: String, exit: Int32 = 2, _ fragments: String...) -> HostileCase {
        HostileCase(name: name, arguments: { ["report", "--store", $0.store, "--sql", query] }, exitCode: exit, fragments: fragments)
    }

    static let baseSpec = """
    {
      "name": "hostile",
      "seed": 3,
      "dataset": { "plugin": "synthetic", "train_size": 64, "test_size": 32, "size": 8, "classes": 3 },
      "model": { "layers": [
        { "conv": { "filters": 3, "kernel": 3, "padding": 1 } }, { "activation": {} }, { "pool": {} },
        { "flatten": {} }, { "dense": { "units": 3 } } ] },
      "optimizer": { "plugin": "sgd", "learning_rate": 0.1 },
      "training": { "epochs": 1, "batch_size": 32 },
      "matrix": { "model.pooling": ["max", "avg"] }
    }
    """

    static let layersBlock = """
    "layers": [
        { "conv": { "filters": 3, "kernel": 3, "padding": 1 } }, { "activation": {} }, { "pool": {} },
        { "flatten": {} }, { "dense": { "units": 3 } } ] },
    """

    static let idxSpec = """
    {
      "name": "hostile-data",
      "dataset": { "plugin": "idx", "path": "$DIR/data" },
      "model": { "input": [1, 4, 4], "layers": [ { "flatten": {} }, { "dense": { "units": 3 } } ] }
    }
    """

    /// An IDX file: magic (0, 0, 0x08 = unsigned bytes, rank), big-endian dimensions, then `payload`.
    static func idx(_ dimensions: [UInt32], payload: [UInt8]? = nil, magic: [UInt8]? = nil) -> Data {
        var bytes: [UInt8] = magic ?? [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)] }
        bytes += payload ?? (0..<dimensions.reduce(1) { $0 * Int($1) }).map { UInt8($0 % 3) }
        return Data(bytes)
    }

    /// A well-formed data set of `train` and `test` 4×4 images, with some files replaced.
    static func dataset(train: UInt32 = 6, test: UInt32 = 3, replacing: [String: Data] = [:]) -> [String: Data] {
        var files = [
            "train-images-idx3-ubyte": idx([train, 4, 4]), "train-labels-idx1-ubyte": idx([train]),
            "t10k-images-idx3-ubyte": idx([test, 4, 4]), "t10k-labels-idx1-ubyte": idx([test]),
        ]
        for (name, data) in replacing { files[name] = data }
        return files
    }

    static let all: [HostileCase] = specSyntax + specEncoding + specValues + specMatrix + specSearch + dataFiles + commandLines + reportFilters + sqlCases
}

// MARK: - Specs: syntax

extension HostileCase {
    static let specSyntax: [HostileCase] = [
        .spec("empty file", "", "spec.json:1:1:", "end of file"),
        .spec("whitespace only", "  \n\t\n", "spec.json:3:1:", "end of file"),
        .spec("truncated object", "{\"name\": \"x\"", "spec.json:1:13:", "not closed"),
        .spec("trailing comma", "{\"name\": \"x\",}", "spec.json:1:14:", "JSON syntax error"),
        .spec("single quotes", "{'name': 'x'}", "spec.json:1:2:", "JSON syntax error"),
        .spec("a comment", "{\n// note\n\"name\": \"x\"}", "spec.json:2:1:", "JSON syntax error"),
        .spec("NaN literal", "{\"seed\": NaN}", "spec.json:1:10:", "JSON syntax error"),
        .spec("Infinity literal", "{\"seed\": -Infinity}", "spec.json:1:11:", "JSON syntax error"),
        .spec("a number too large for a double", "{\"seed\": 1e999}", "spec.json:1:10:", "1e999"),
        .spec("a negative number too large", "{\"optimizer\": {\"learning_rate\": -1e999}}", "spec.json:1:33:", "-1e999"),
        .spec("100,000 nested arrays", "{\"name\": " + String(repeating: "[", count: 100_000), "spec.json:1:", "nest"),
        .spec("300 nested objects", String(repeating: "{\"a\": ", count: 300) + "1" + String(repeating: "}", count: 300),
              "spec.json:1:", "nest"),
        .spec("a top-level array", "[1, 2]", "spec.json:1:1:", "object"),
        .spec("two values", "{} {}", "spec.json:1:4:", "JSON syntax error"),
        .spec("a duplicate key", "{\"name\": \"a\", \"name\": \"b\"}", "spec.json:1:15:", "name"),
        .spec("an unterminated string", "{\"name\": \"abc", "spec.json:1:", "string"),
    ]
}

// MARK: - Specs: encodings

extension HostileCase {
    static let specEncoding: [HostileCase] = [
        .spec("a high surrogate followed by a letter", #"{"name": "\uD800\u0041"}"#, "spec.json:1:", "surrogate"),
        .spec("a lone low surrogate", #"{"name": "\uDC00"}"#, "spec.json:1:", "surrogate"),
        .spec("a high surrogate at the end of the string", #"{"name": "ab\uD83D"}"#, "spec.json:1:", "surrogate"),
        .spec("a truncated \\u escape", #"{"name": "\u12"}"#, "spec.json:1:11:", "four hex digits"),
        .spec("an unknown escape", #"{"name": "\q"}"#, "spec.json:1:", "escape"),
        .spec("a raw control character in a string", Data("{\"name\": \"a\u{01}b\"}".utf8), ["spec.json:1:", "control character"]),
        .spec("a raw newline in a string", Data("{\"name\": \"a\nb\"}".utf8), ["spec.json:1:12:", "cannot span lines"]),
        .spec("bytes that are not UTF-8", Data([0x7B, 0x22, 0x6E, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), ["spec.json", "UTF-8"]),
        .spec("UTF-16 text", Data([0xFE, 0xFF, 0x00, 0x7B, 0x00, 0x7D]), ["spec.json", "UTF-8"]),
        .spec("random bytes", Data((0..<256).map { UInt8(($0 * 181 + 7) % 256) }), ["spec.json", "UTF-8"]),
        .spec("a NUL byte", Data("{\"name\": \"a\u{0}\"}".utf8), ["spec.json:1:", "control character"]),
    ]
}

// MARK: - Specs: types, ranges, sizes

extension HostileCase {
    static let specValues: [HostileCase] = [
        .variant("a name that is a number", replacing: #""name": "hostile""#, with: #""name": 5"#, "spec.json:2:11:", "name"),
        .variant("epochs zero", replacing: #""epochs": 1"#, with: #""epochs": 0"#, "spec.json:9:27:", "training.epochs"),
        .variant("epochs negative", replacing: #""epochs": 1"#, with: #""epochs": -3"#, "spec.json:9:27:", "training.epochs"),
        .variant("epochs not whole", replacing: #""epochs": 1"#, with: #""epochs": 2.5"#, "spec.json:9:27:", "training.epochs"),
        .variant("epochs beyond reason", replacing: #""epochs": 1"#, with: #""epochs": 1e12"#, "spec.json:9:27:", "training.epochs"),
        .variant("batch size zero", replacing: #""batch_size": 32"#, with: #""batch_size": 0"#, "training.batch_size"),
        .variant("a negative learning rate", replacing: #""learning_rate": 0.1"#, with: #""learning_rate": -0.1"#, "spec.json:8:",
                 "optimizer.learning_rate"),
        .variant("a learning rate that is text", replacing: #""learning_rate": 0.1"#, with: #""learning_rate": "fast""#,
                 "spec.json:8:", "optimizer.learning_rate"),
        .variant("an unknown optimizer", replacing: #""plugin": "sgd""#, with: #""plugin": "sgdd""#, "spec.json:8:", "sgd"),
        .variant("an unknown activation", replacing: #"{ "activation": {} }"#, with: #"{ "activation": { "function": "rleu" } }"#,
                 "model.layers[1]", "relu"),
        .variant("no layers", replacing: layersBlock, with: #""layers": [] },"#, "spec.json:5:24:", "model.layers"),
        .variant("layers that are not a list", replacing: layersBlock, with: #""layers": 3 },"#, "spec.json:5:24:", "model.layers"),
        .variant("a kernel of zero", replacing: #""kernel": 3"#, with: #""kernel": 0"#, "spec.json:6:", "model.layers[0].conv.kernel"),
        .variant("a kernel larger than the input", replacing: #""kernel": 3, "padding": 1"#, with: #""kernel": 30, "padding": 1"#,
                 "spec.json:6:", "model.layers[0].conv"),
        .variant("filters beyond any memory", replacing: #""filters": 3"#, with: #""filters": 2000000000"#, "spec.json:6:",
                 "model.layers[0].conv.filters"),
        .variant("dense units beyond any memory", replacing: #""units": 3"#, with: #""units": 1000000000"#,
                 "model.layers[4].dense.units"),
        .variant("a name one megabyte long", replacing: #""seed": 3"#, with: #""seed": 3, "nmae": ""# + String(repeating: "x", count: 1 << 20) + "\"",
                 "spec.json:3:22:", "nmae"),
        .variant("a negative seed", replacing: #""seed": 3"#, with: #""seed": -3"#, "spec.json:3:11:", "seed"),
        .variant("an unknown data set plugin", replacing: #""plugin": "synthetic""#, with: #""plugin": "synthetc""#,
                 "spec.json:4:", "synthetic"),
        .variant("a data set of size zero", replacing: #""train_size": 64"#, with: #""train_size": 0"#, "dataset.train_size"),
        .variant("an input shape with a negative side", replacing: #""model": { "layers""#,
                 with: #""model": { "input": [1, -8, 8], "layers""#, "model.input"),
        .command("a spec that is a folder", { ["validate", $0.folder] }, "$DIR", "spec"),
        .command("a spec that does not exist", { ["validate", $0.folder + "/nothing.json"] }, "nothing.json", "no such spec file"),
    ]
}

// MARK: - Specs: the matrix

extension HostileCase {
    static let specMatrix: [HostileCase] = [
        .variant("an unknown matrix key", replacing: #""model.pooling""#, with: #""model.poling""#, "spec.json:10:", "model.poling"),
        .variant("an empty list in the matrix", replacing: #"["max", "avg"]"#, with: "[]", "spec.json:10:", "model.pooling"),
        .variant("a matrix value of the wrong type", replacing: #"["max", "avg"]"#, with: #"["max", 3]"#, "spec.json:10:",
                 "model.pooling"),
        .variant("a matrix that is not an object", replacing: #""matrix": { "model.pooling": ["max", "avg"] }"#,
                 with: #""matrix": ["max"]"#, "spec.json:10:", "matrix"),
        .variant("a layer index past the end", replacing: #""model.pooling""#, with: #""model.layers[99].conv.filters""#,
                 "spec.json:10:", "model.layers[99]"),
        .variant("seeds that are not whole numbers", replacing: #""model.pooling": ["max", "avg"]"#, with: #""seeds": [1, 2.5]"#,
                 "spec.json:10:", "seeds"),
        .variant("a billion runs", replacing: #""model.pooling": ["max", "avg"]"#,
                 with: ["optimizer.learning_rate", "training.batch_size", "seeds"].map { key in
                     "\"\(key)\": [" + (1...1000).map { key == "optimizer.learning_rate" ? "0.\($0)" : "\($0)" }.joined(separator: ", ") + "]"
                 }.joined(separator: ", "), command: "exec", "spec.json:10:", "1000000000 runs"),
    ]
}

// MARK: - Specs: the search

extension HostileCase {
    static func search(_ body: String) -> String { #""search": { "sampler": "random", "#  + body + " }" }
    static let matrixLine = #""matrix": { "model.pooling": ["max", "avg"] }"#

    static let specSearch: [HostileCase] = [
        .variant("a matrix and a search together", replacing: matrixLine,
                 with: matrixLine + ", " + search(#""trials": 3, "space": { "optimizer.momentum": { "uniform": [0, 0.9] } }"#),
                 command: "exec", "spec.json:10:", "not both"),
        .variant("an empty search range", replacing: matrixLine,
                 with: search(#""trials": 3, "space": { "optimizer.momentum": { "uniform": [0.5, 0.1] } }"#), "spec.json:10:", "empty range"),
        .variant("a log-uniform range from 0", replacing: matrixLine,
                 with: search(#""trials": 3, "space": { "optimizer.learning_rate": { "log_uniform": [0, 1] } }"#), command: "exec",
                 "spec.json:10:", "lo > 0"),
        .variant("a search of 0 trials", replacing: matrixLine,
                 with: search(#""trials": 0, "space": { "optimizer.momentum": { "uniform": [0, 0.9] } }"#), command: "exec",
                 "spec.json:10:", "search.trials"),
    ]
}

// MARK: - Data files

extension HostileCase {
    static let dataFiles: [HostileCase] = [
        .data("a wrong magic number", dataset(replacing: ["train-images-idx3-ubyte": idx([6, 4, 4], magic: [0x50, 0x4B, 3, 4])]),
              "train-images-idx3-ubyte", "not an IDX file"),
        .data("a truncated images file", dataset(replacing: ["train-images-idx3-ubyte": idx([6, 4, 4], payload: [UInt8](repeating: 1, count: 50))]),
              "train-images-idx3-ubyte", "truncated"),
        .data("fewer labels than images", dataset(replacing: ["train-labels-idx1-ubyte": idx([5])]), "train-labels-idx1-ubyte", "5 labels"),
        .data("a data set with no images", dataset(train: 0), "train-images-idx3-ubyte", "no images"),
        .data("dimensions whose product overflows", dataset(replacing: ["train-images-idx3-ubyte": idx([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [])]),
              "train-images-idx3-ubyte", "sizes (4294967295×4294967295×4294967295) are impossible"),
        .data("bytes after the data", dataset(replacing: ["train-labels-idx1-ubyte": idx([6], payload: [0, 1, 2, 0, 1, 2, 7])]),
              "train-labels-idx1-ubyte", "holds more than the 6 bytes of data its header promises (6)"),
        .data("a header cut short", dataset(replacing: ["t10k-images-idx3-ubyte": Data([0, 0, 8, 3, 0, 0])]), "t10k-images-idx3-ubyte", "truncated inside the header"),
        .data("a missing labels file", dataset().filter { $0.key != "t10k-labels-idx1-ubyte" }, "t10k-labels-idx1-ubyte.gz: no such file"),
        .data("a gzip file that is not gzip", dataset().filter { $0.key != "train-images-idx3-ubyte" }
                .merging(["train-images-idx3-ubyte.gz": Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0xAB, count: 40))]) { $1 },
              "train-images-idx3-ubyte.gz", "not an IDX file"),
        .data("a truncated gzip file", dataset().filter { $0.key != "train-labels-idx1-ubyte" }
                .merging(["train-labels-idx1-ubyte.gz": gzip(idx([6])).prefix(18)]) { $1 },
              "train-labels-idx1-ubyte.gz", "the gzip stream ends early"),
        .data("a gzip file with a wrong checksum", dataset().filter { $0.key != "t10k-labels-idx1-ubyte" }
                .merging(["t10k-labels-idx1-ubyte.gz": corruptCRC(gzip(idx([3])))]) { $1 },
              "t10k-labels-idx1-ubyte.gz", "incorrect data check"),
        .data("train and test images of different sizes", dataset(replacing: ["t10k-images-idx3-ubyte": idx([3, 5, 5])]),
              "train images are 1×4×4, test images 1×5×5"),
        .data("broken data is refused by exec before anything is recorded",
              dataset(replacing: ["train-labels-idx1-ubyte": idx([5])]), command: "exec", "train-labels-idx1-ubyte", "5 labels"),
    ]

    /// gzip of `data` by the system's gzip, so the reader is tested against another implementation.
    static func gzip(_ data: Data) -> Data {
        let folder = temporaryFolder()
        let path = folder + "/file"
        FileManager.default.createFile(atPath: path, contents: data)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-n", "-f", path]
        try? process.run()
        process.waitUntilExit()
        return (try? Data(contentsOf: URL(fileURLWithPath: path + ".gz"))) ?? Data()
    }

    /// The gzip trailer's CRC-32, flipped.
    static func corruptCRC(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        if bytes.count >= 8 { bytes[bytes.count - 8] ^= 0xFF }
        return Data(bytes)
    }
}

// MARK: - Command lines

extension HostileCase {
    static let commandLines: [HostileCase] = [
        .command("an unknown option", { ["exec", "Experiments/smoke.json", "--bogus", "--store", $0.store] }, "--bogus"),
        .command("exec without a spec", { ["exec", "--store", $0.store] }, "spec"),
        .command("a store that is a folder", { ["exec", "Experiments/smoke.json", "--store", $0.folder, "--quiet"] }, "$DIR"),
        .command("a store that is a text file", { context in
            FileManager.default.createFile(atPath: context.folder + "/notes.txt", contents: Data("notes".utf8))
            return ["report", "--store", context.folder + "/notes.txt"]
        }, "notes.txt", "not a SQLite database"),
        .command("--html onto the store itself", { ["report", "--store", $0.store, "--html", $0.store] }, "store.sqlite", "it is the store being read"),
        .command("schema --output onto a store", { ["schema", "--output", $0.store] }, "store.sqlite", "it is a SQLite database"),
        .command("--html into a folder that does not exist", { ["report", "--store", $0.store, "--html", $0.folder + "/no/such/r.html"] },
                 "r.html"),
    ]
}

// MARK: - Report filters

extension HostileCase {
    static let reportFilters: [HostileCase] = [
        .command("an unknown run", { ["report", "--store", $0.store, "--run", "999999"] }, "999999"),
        .command("a run that is not a number", { ["report", "--store", $0.store, "--run", "abc"] }, "abc"),
        .command("an unknown status", { ["report", "--store", $0.store, "--status", "bogus"] }, "bogus"),
        .command("an unknown format", { ["report", "--store", $0.store, "--format", "yaml"] }, "yaml"),
        .command("a where clause without an operator", { ["report", "--store", $0.store, "--where", "garbage"] }, "garbage"),
        .command("a where clause that smuggles SQL", exit: 1, { ["report", "--store", $0.store, "--where", "seed=1; DROP TABLE runs"] },
                 "no runs match"),
        .command("a group-by key no run has", { ["report", "--store", $0.store, "--group-by", "model.nothing"] }, "model.nothing"),
        .command("a stale limit that is not a number", { ["report", "--store", $0.store, "--stale-after", "nan"] }, "--stale-after"),
        .command("a stale limit beyond any run", { ["report", "--store", $0.store, "--stale-after", "1e300"] }, "--stale-after"),
        .command("a target accuracy above one", { ["report", "--store", $0.store, "--group-by", "seed", "--target-accuracy", "7"] },
                 "target-accuracy"),
        .command("a name with escape sequences is shown escaped", exit: 0, { context in
            let spec = context.folder + "/esc.json"
            FileManager.default.createFile(atPath: spec, contents: Data(
                baseSpec.replacingOccurrences(of: #""name": "hostile""#, with: #""name": "x\u001b[2Jy""#).utf8))
            return ["exec", spec, "--dry-run", "--store", context.store]
        }, #"x\u{1B}[2Jy"#),
    ]
}

// MARK: - SQL

extension HostileCase {
    static let sqlCases: [HostileCase] = [
        .sql("DELETE", "DELETE FROM runs", "read-only"),
        .sql("DROP TABLE", "DROP TABLE metrics", "read-only"),
        .sql("UPDATE", "UPDATE runs SET status = 'failed'", "read-only"),
        .sql("ATTACH", "ATTACH DATABASE '/tmp/convlab-attached.sqlite' AS other", "ATTACH is refused"),
        .sql("VACUUM INTO", "VACUUM INTO '/tmp/convlab-vacuumed.sqlite'", "read-only"),
        .sql("load_extension", "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", "load_extension is refused"),
        .sql("PRAGMA that writes", "PRAGMA journal_mode = DELETE", "read-only"),
        .sql("several statements", "SELECT 1; DELETE FROM runs", "one statement at a time"),
        .sql("a syntax error", "SELEC 1", "syntax error"),
        .sql("an endless recursive query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
             "rows and was stopped", "--max-rows"),
        .command("an endless query that returns nothing", { context in
            ["report", "--store", context.store, "--timeout", "3", "--sql",
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"]
        }, "longer than 3", "--timeout"),
        .sql("a query after a comment is a query", "-- note\nSELECT 41 + 1 AS answer", exit: 0, "42"),
        .sql("a comment alone lists the tables, like a bare --sql", "-- only a note", exit: 0, "grad_checks"),
    ]
}
