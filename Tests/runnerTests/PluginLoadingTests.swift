import Foundation
import Testing
@testable import RunStore
import TestSupport

/// The plugin libraries these tests load, built by scripts/build-plugins: Examples/LpPooling's
/// libLpPooling.so (release) and the broken libraries of Tests/Fixtures/PluginFixtures (debug).
/// CONVLAB_LP_PLUGIN and CONVLAB_PLUGIN_FIXTURES (which scripts/build-plugins prints) say where
/// they are; without them, they are looked for where scripts/build-plugins builds them.
private let lpPlugin = environmentPath("CONVLAB_LP_PLUGIN") ?? packageRoot + "/Examples/LpPooling/.build/release/libLpPooling.so"
private let fixtures = environmentPath("CONVLAB_PLUGIN_FIXTURES") ?? packageRoot + "/Tests/Fixtures/PluginFixtures/.build/debug"
private let fixtureNames = ["WrongVersion", "NoEntry", "ThrowingFactory", "BadParameter", "Clash", "WrongBackward", "FirstChoice"]

private func environmentPath(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

/// The libraries not built yet: every test of the suite fails with this list and the command
/// that builds them, instead of being skipped.
struct PluginLibrariesMissing: Error, CustomStringConvertible {
    var files: [String]
    var description: String {
        "the plugin libraries these tests load are not built: \(files.joined(separator: ", ")); "
            + "build them with `eval \"$(scripts/build-plugins)\"` (scripts/test does so before the tests)"
    }
}

private func fixture(_ name: String) -> String { fixtures + "/lib\(name).so" }

/// Experiments/lp-smoke.json with its "plugins" list pointing at `library` (absolute), or
/// without the list; `pooling` replaces the matrix's pooling values.
private func smokeSpec(_ folder: String, library: String?, pooling: String? = nil) throws -> String {
    var text = try String(contentsOfFile: packageRoot + "/Experiments/lp-smoke.json", encoding: .utf8)
    let listed = #""plugins": ["../Examples/LpPooling/.build/release/libLpPooling.so"],"#
    #expect(text.contains(listed))
    text = text.replacingOccurrences(of: listed, with: library.map { #""plugins": ["\#($0)"],"# } ?? "")
    if let pooling {
        let matrix = #""matrix": { "model.pooling": ["lp", { "plugin": "lp", "p": 4 }] }"#
        #expect(text.contains(matrix))
        text = text.replacingOccurrences(of: matrix, with: #""matrix": { "model.pooling": [\#(pooling)] }"#)
    }
    let path = folder + "/lp-smoke.json"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private func outcomes(_ store: String, where condition: String = "1") throws -> [String: Int] {
    let rows = try StoreReader(path: store).query("SELECT outcome, COUNT(*) FROM grad_checks WHERE \(condition) GROUP BY outcome").rows
    var counts: [String: Int] = [:]
    for row in rows { if case .text(let outcome) = row[0], case .integer(let n) = row[1] { counts[outcome] = Int(n) } }
    return counts
}

@Suite("plugin libraries: the good one works everywhere, bad ones are refused in one line", .serialized)
struct PluginLoadingTests {
    init() throws {
        let missing = ([lpPlugin] + fixtureNames.map(fixture)).filter { !FileManager.default.fileExists(atPath: $0) }
        guard missing.isEmpty else { throw PluginLibrariesMissing(files: missing) }
    }

    static let badLibraries: [(name: String, fragment: String)] = [
        ("WrongVersion", "built against plugin API version 999"),
        ("NoEntry", "exports no convlab_plugin_entry"),
        ("ThrowingFactory", "fixture setup failed: the lookup table is missing"),
        ("BadParameter", "its default 0.5 is not number ≥ 1"),
        ("Clash", "pooling plugin \"max\" clashes"),
    ]

    @Test("a bad library on --plugin: exit 2, one line naming the file, no store", arguments: badLibraries.map(\.name))
    func badLibraryOnCommandLine(name: String) throws {
        let fragment = Self.badLibraries.first { $0.name == name }!.fragment
        let library = fixture(name)
        #expect(FileManager.default.fileExists(atPath: library), "\(library) was not built")
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        for arguments in [["exec", try smokeSpec(folder, library: nil), "--plugin", library, "--store", store],
                          ["validate", try smokeSpec(folder, library: nil), "--plugin", library],
                          ["plugins", "--plugin", library]] {
            let result = try finish(launch(arguments))
            #expect(result.status == 2, "\(arguments[0]) \(name): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments[0]) \(name): \(result.stderr)")
            #expect(result.stderr.contains(library) && result.stderr.contains(fragment), "\(arguments[0]) \(name): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test("a bad library in the spec's \"plugins\" list: exit 2 at that line, naming the file, no store", arguments: badLibraries.map(\.name))
    func badLibraryInSpec(name: String) throws {
        let fragment = Self.badLibraries.first { $0.name == name }!.fragment
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let spec = try smokeSpec(folder, library: fixture(name))
        let result = try runner("exec", spec, "--store", store)
        #expect(result.status == 2, "\(name): \(result.stderr)")
        #expect(result.stderr.contains("\(spec):5:") && result.stderr.contains("plugins[0]"), "\(name): \(result.stderr)")
        #expect(result.stderr.contains(fixture(name)) && result.stderr.contains(fragment), "\(name): \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test("not a usable library: missing, text, a folder, a FIFO, a symlink loop, an executable, cut short anywhere → exit 2 and one line naming it")
    func notALibrary() throws {
        let folder = temporaryFolder()
        let text = folder + "/libText.so"
        try "not a library".write(toFile: text, atomically: true, encoding: .utf8)
        let fifo = folder + "/libFifo.so"
        #expect(mkfifo(fifo, 0o600) == 0)
        let loop = folder + "/libLoopA.so"
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: folder + "/libLoopB.so")
        try FileManager.default.createSymbolicLink(atPath: folder + "/libLoopB.so", withDestinationPath: loop)
        // Cut short: dlopen would map segments past the end of the file and die of SIGBUS.
        let whole = try Data(contentsOf: URL(fileURLWithPath: lpPlugin))
        var cases = [(folder + "/libMissing.so", "no such file"), (text, "no ELF header"), (folder, "is a folder"),
                     (fifo, "not a regular file"), (loop, "loop of symbolic links"), ("/bin/sh", "cannot be loaded")]
        for (name, length) in [("Head", 1000), ("Half", whole.count / 2), ("AllButTail", whole.count - 100), ("Header", 64)] {
            let path = folder + "/libCut\(name).so"
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            cases.append((path, "is cut short"))
        }
        for (path, fragment) in cases {
            let result = try runner("exec", try smokeSpec(folder, library: nil), "--plugin", path, "--store", folder + "/s.sqlite")
            #expect(result.status == 2, "\(path): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(path) && result.stderr.contains(fragment), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"))
    }

    @Test("runner plugins and runner schema include lp and its parameter p")
    func listed() throws {
        let plugins = try runner("plugins", "--kind", "pooling", "--plugin", lpPlugin)
        #expect(plugins.status == 0, "\(plugins.stderr)")
        #expect(plugins.stdout.contains("  lp — power average"), "\(plugins.stdout)")
        #expect(plugins.stdout.contains("p: number ≥ 1 (default 2)"), "\(plugins.stdout)")
        let without = try runner("plugins", "--kind", "pooling")
        #expect(!without.stdout.contains("  lp — "))

        let schema = try runner("schema", "--plugin", lpPlugin)
        #expect(schema.status == 0, "\(schema.stderr)")
        #expect(schema.stdout.contains("\"lp\""))
        #expect(!(try runner("schema")).stdout.contains("\"lp\""))
    }

    @Test("runner plugins lists a library's sampler under SAMPLER and its pruner under PRUNER, beside the built-in ones")
    func searchPluginsListed() throws {
        let listed = try runner("plugins", "--plugin", fixture("FirstChoice"))
        #expect(listed.status == 0, "\(listed.stderr)")
        let text = listed.stdout
        guard let samplers = text.range(of: "\nSAMPLER\n"), let pruners = text.range(of: "\nPRUNER\n"), samplers.upperBound < pruners.lowerBound else {
            Issue.record("no SAMPLER section before a PRUNER section: \(text)")
            return
        }
        let samplerSection = text[samplers.upperBound..<pruners.lowerBound], prunerSection = text[pruners.upperBound...]
        // The origin is the library's real path (.build/debug is a symbolic link).
        #expect(samplerSection.contains("  first_choice — each domain's low end or first option (from ") && samplerSection.contains("libFirstChoice.so)"), "\(samplerSection)")
        #expect(samplerSection.contains("  tpe — ") && samplerSection.contains("  random — "), "\(samplerSection)")
        #expect(prunerSection.contains("  after_first_epoch — stops every trial after its first epoch"), "\(prunerSection)")
        #expect(prunerSection.contains("  median — ") && prunerSection.contains("  asha — "), "\(prunerSection)")
        #expect(!(try runner("plugins", "--kind", "sampler")).stdout.contains("first_choice"))
    }

    @Test("validate: the smoke spec passes; a bad p gets the usual range and did-you-mean errors")
    func validation() throws {
        let folder = temporaryFolder()
        let good = try runner("validate", try smokeSpec(folder, library: lpPlugin))
        #expect(good.status == 0, "\(good.stderr)")
        let viaOption = try runner("validate", try smokeSpec(folder, library: nil), "--plugin", lpPlugin)
        #expect(viaOption.status == 0, "\(viaOption.stderr)")
        // The same library in the spec and on the command line (through a symlink, even) loads once.
        let link = folder + "/liblp-link.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: lpPlugin)
        let twice = try runner("validate", try smokeSpec(folder, library: lpPlugin), "--plugin", link)
        #expect(twice.status == 0, "\(twice.stderr)")
        // Two different files that declare the same name clash, naming where the first came from.
        let copy = folder + "/libLpCopy.so"
        try FileManager.default.copyItem(atPath: lpPlugin, toPath: copy)
        let clash = try runner("validate", try smokeSpec(folder, library: lpPlugin), "--plugin", copy)
        #expect(clash.status == 2)
        // Command-line libraries load first, so the spec's copy is the one refused, at its line.
        #expect(clash.stderr.contains("plugins[0]: \(lpPlugin): pooling plugin \"lp\" clashes with the one from \(copy)"), "\(clash.stderr)")

        let small = try runner("validate", try smokeSpec(folder, library: lpPlugin, pooling: #"{ "plugin": "lp", "p": 0.5 }"#))
        #expect(small.status == 2)
        #expect(small.stderr.contains("model.pooling.p: must be a number ≥ 1, got 0.5"), "\(small.stderr)")
        let misspelt = try runner("validate", try smokeSpec(folder, library: lpPlugin, pooling: #"{ "plugin": "lp", "q": 3 }"#))
        #expect(misspelt.status == 2)
        #expect(misspelt.stderr.contains("model.pooling.q: unknown key \"q\"; did you mean \"p\"?"), "\(misspelt.stderr)")
        // Libraries load once per spec, so a matrix cannot vary them.
        let matrixPath = try smokeSpec(folder, library: lpPlugin)
        let matrixText = try String(contentsOfFile: matrixPath, encoding: .utf8)
            .replacingOccurrences(of: #""matrix": {"#, with: #""matrix": { "plugins": [["a.so"], ["b.so"]],"#)
        try matrixText.write(toFile: matrixPath, atomically: true, encoding: .utf8)
        let matrix = try runner("validate", matrixPath)
        #expect(matrix.status == 2)
        #expect(matrix.stderr.contains("\"plugins\" cannot be set by the matrix"), "\(matrix.stderr)")
        let name = try runner("validate", try smokeSpec(folder, library: lpPlugin, pooling: #""lq""#))
        #expect(name.status == 2)
        #expect(name.stderr.contains("unknown pooling \"lq\"; did you mean \"lp\"?"), "\(name.stderr)")
    }

    @Test("exec with the Lp plugin: both runs complete and every gradient check passes")
    func execGood() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let result = try runner("exec", try smokeSpec(folder, library: lpPlugin), "--store", store)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(2))
        let counts = try outcomes(store)
        #expect((counts["passed"] ?? 0) > 0 && counts["failed"] == nil, "\(counts)")
        // And it learns: the p = 2 run's last training loss is below ln 10 ≈ 2.303, where a
        // network that guesses every class evenly stays (2.2 leaves room for seed noise; it ends
        // near 1.9).
        let last = try scalar(store, "SELECT value FROM metrics WHERE name = 'train_loss_epoch' AND run_id = 1 ORDER BY step DESC LIMIT 1")
        #expect((last.double ?? 9) < 2.2, "\(last)")
        // The same, as a person would ask.
        let report = try runner("report", "--store", store, "--sql", "SELECT outcome, count(*) FROM grad_checks GROUP BY outcome")
        #expect(report.status == 0 && report.stdout.contains("passed") && !report.stdout.contains("failed"), "\(report.stdout)\(report.stderr)")
    }

    @Test("exec with a wrong backward: the run trains, and the gradient check fails below the pool layers")
    func execWrongBackward() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let spec = try smokeSpec(folder, library: fixture("WrongBackward"), pooling: #""lp_wrong""#)
        let result = try runner("exec", spec, "--store", store)
        // Trained on wrong gradients, the run may also diverge (exit 1); either way it was trained
        // and checked, never refused.
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status IN ('completed', 'diverged')") == .integer(1))
        // Layers 0 (conv) and 3 (conv) lie below a pool layer: their gradients go through its
        // route. The last dense layer (7) is above both pools and stays right.
        let below = try outcomes(store, where: "layer_kind = 'conv'")
        #expect((below["failed"] ?? 0) > 0, "\(below)")
        let above = try outcomes(store, where: "layer_kind = 'dense'")
        #expect((above["passed"] ?? 0) > 0 && above["failed"] == nil, "\(above)")
    }
}
