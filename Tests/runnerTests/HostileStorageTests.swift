import Checkpoints
import Foundation
import Testing
@testable import RunStore
import TestSupport

/// The hostile-input suite, for what lies under the store: checkpoint files that are not what the
/// store recorded, a disk that fills, a store that cannot be written, and a `runner exec` killed or
/// stopped in the middle of a checkpoint write or an evaluation. Each case asserts that `runner`
/// exits by itself (no signal, never hangs: a watchdog kills it and fails the test), with the
/// documented code and one line saying what is wrong and how to fix it, and that the store holds
/// the same runs, metrics and checkpoints as before and passes `PRAGMA integrity_check`.
@Suite("hostile storage: damaged checkpoints, a full disk, a read-only store, kill -9 and SIGSTOP mid-write", .serialized)
struct HostileStorageTests {
    // MARK: - Checkpoints on resume

    /// Each damages run 1's latest checkpoint (`epoch-0002.safetensors`) in its own way and says
    /// what the refusal line must hold. (A flipped byte is `ResumeCLITests.tamperedRefused`.)
    static let damages: [String] = ["truncated", "another run's file", "another run's file, its hash recorded too",
                                    "a folder", "a FIFO", "the artifacts folder deleted"]

    @Test("a damaged checkpoint on resume: exit 2, one line naming the file and --fresh, the store as it was", arguments: damages)
    func damagedCheckpoint(damage: String) throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 2, extra: #", "checkpoint": { "keep": "all" }, "matrix": { "seeds": [1, 2] }"#)
        let store = folder + "/s.sqlite"
        let first = try bounded(["exec", spec, "--store", store, "--quiet"])
        #expect(first.result.status == 0, "\(first.result.stderr)")
        let opened = try RunStore(path: store)
        try opened.write { db in try db.execute(sql: "UPDATE runs SET status = 'interrupted' WHERE run_index = 1") }
        try opened.checkpointAndClose()
        let file = try artifactsFolder(store, runIndex: 1) + "/epoch-0002.safetensors"
        let otherFile = try artifactsFolder(store, runIndex: 2) + "/epoch-0002.safetensors"
        let fragment: String
        switch damage {
        case "truncated":
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file))
            fragment = "\(file): SHA-256 is "
        case "another run's file":
            try FileManager.default.removeItem(atPath: file)
            try FileManager.default.copyItem(atPath: otherFile, toPath: file)
            fragment = "\(file): SHA-256 is "
        case "another run's file, its hash recorded too":
            try FileManager.default.removeItem(atPath: file)
            try FileManager.default.copyItem(atPath: otherFile, toPath: file)
            let writable = try RunStore(path: store)
            try writable.write { db in
                try db.execute(sql: """
                    UPDATE checkpoints SET sha256 = (SELECT c.sha256 FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.run_index = 2 AND c.epoch = 2)
                    WHERE epoch = 2 AND run_id = (SELECT id FROM runs WHERE run_index = 1)
                    """)
            }
            try writable.checkpointAndClose()
            fragment = "\(file): is a checkpoint of run \(try uuid(store, runIndex: 2)), not of run \(try uuid(store, runIndex: 1))"
        case "a folder":
            try FileManager.default.removeItem(atPath: file)
            try FileManager.default.createDirectory(atPath: file, withIntermediateDirectories: false)
            fragment = "\(file): is not a regular file"
        case "a FIFO":
            try FileManager.default.removeItem(atPath: file)
            #expect(mkfifo(file, 0o600) == 0)
            fragment = "\(file): is not a regular file"
        default:
            try FileManager.default.removeItem(atPath: store + ".artifacts")
            fragment = "\(file): does not exist"
        }
        let before = try StoreSnapshot(store)
        let refused = try bounded(["exec", spec, "--store", store, "--quiet"], seconds: 60)
        refused.expectExited(2, damage)
        refused.expectOneLine(after: "continuing experiment 1", [fragment, "--fresh"], damage)
        #expect(try StoreSnapshot(store) == before, "\(damage): the store changed")
        try expectIntact(store, damage)
    }

    // MARK: - A full disk

    @Test("the disk fills with a checkpoint: exit 1, one line saying so and what to do, the store intact; with space freed exec resumes the run")
    func diskFullAtCheckpoint() throws {
        let disk = try ScratchDisk(megabytes: 3)
        defer { disk.unmount() }
        let folder = temporaryFolder()
        // About 1.5 MB a checkpoint (weights and momentum of a 48 × 4000 dense layer): the first
        // fits beside the store, the second does not (the first is deleted only after it).
        let spec = try edit(writeSpec(folder, epochs: 3), [(Self.lastLayer, Self.hidden(4000))])
        let store = disk.path + "/s.sqlite"
        let full = try bounded(["exec", spec, "--store", store])
        full.expectExited(1, "disk full")
        full.expectOneLine(matching: "No space left", ["No space left on device", store + ".artifacts/", "free", "runner exec"], "disk full")
        try expectIntact(store, "disk full")
        let report = try bounded(["report", "--store", store])
        #expect(report.result.status == 0, "\(report.result.stderr)")
        #expect(try scalar(store, "SELECT status || ' ' || failure_kind FROM runs") == .text("failed crash"))
        #expect(try scalar(store, "SELECT group_concat(epoch) FROM checkpoints") == .text("1"))
        try expectCheckpointsWhole(store)
        #expect(try FileManager.default.contentsOfDirectory(atPath: try artifactsFolder(store, runIndex: 1)) == ["epoch-0001.safetensors"],
                "the half-written checkpoint was left behind")

        try disk.remount("size=64m")
        let resumed = try bounded(["exec", spec, "--store", store])
        resumed.expectExited(0, "resumed after the disk was enlarged")
        #expect(resumed.result.stderr.contains("run 1: resumed from epoch 1"), "\(resumed.result.stderr)")
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done FROM runs") == .text("completed 3"))
        try expectCheckpointsWhole(store)
    }

    @Test("the disk fills under the store's own writes: exit 1, one line saying so and what to do, the store intact; with space freed exec resumes the run")
    func diskFullInTheStore() throws {
        let disk = try ScratchDisk(megabytes: 1)
        defer { disk.unmount() }
        let folder = temporaryFolder()
        // A loss and the gradient norms at every step, and no checkpoint: the store's WAL grows until
        // the disk is full (in epoch 7 of 14, measured).
        let spec = try edit(writeSpec(folder, epochs: 14, trainSize: 2048, extra: #", "checkpoint": { "every_epochs": 0 }"#),
                            [(#""loss": { "every": 2 }, "grad_norms": { "every": 2 }"#, #""loss": { "every": 1 }, "grad_norms": { "every": 1 }"#)])
        let store = disk.path + "/s.sqlite"
        let full = try bounded(["exec", spec, "--store", store, "--quiet"])
        full.expectExited(1, "store full")
        full.expectOneLine(after: "starting experiment 1", [store, "disk is full", "free"], "store full")
        try expectIntact(store, "store full")
        let report = try bounded(["report", "--store", store])
        #expect(report.result.status == 0, "\(report.result.stderr)")
        #expect(try scalar(store, "SELECT status FROM runs") == .text("running"))

        try disk.remount("size=256m")
        let resumed = try bounded(["exec", spec, "--store", store, "--quiet"], seconds: 300)
        resumed.expectExited(0, "resumed after the disk was enlarged")
        #expect(resumed.result.stderr.contains("was running in a process that is gone"), "\(resumed.result.stderr)")
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done FROM runs") == .text("completed 14"))
    }

    // MARK: - A read-only store

    @Test("a read-only store file, and a store in a read-only folder: exec exits 2 with one line, nothing changed; report reads it",
          arguments: ["file", "folder"])
    func readOnlyStore(what: String) throws {
        let disk = try ScratchDisk(megabytes: 16)
        defer { disk.unmount() }
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1)
        let store = disk.path + "/s.sqlite"
        #expect(try bounded(["exec", spec, "--store", store, "--quiet"]).result.status == 0)
        let opened = try RunStore(path: store)
        try opened.write { db in try db.execute(sql: "UPDATE runs SET status = 'interrupted'") }
        try opened.checkpointAndClose()
        let before = try StoreSnapshot(store)
        let bytes = try storeBytes(store)
        // Root ignores permission bits: a read-only mount is what stops it.
        let readOnly = what == "file" ? try ReadOnlyBind(store) : nil
        defer { readOnly?.unmount() }
        if what == "folder" { try disk.remount("ro") }

        let refused = try bounded(["exec", spec, "--store", store, "--quiet"])
        refused.expectExited(2, what)
        refused.expectOneLine(after: nil, [store, "read-only", "--store"], what)
        let report = try bounded(["report", "--store", store])
        #expect(report.result.status == 0, "\(what): \(report.result.stderr)")
        #expect(report.result.stdout.contains("interrupted"), "\(what): \(report.result.stdout)")
        #expect(try storeBytes(store) == bytes, "\(what): the store changed")
        #expect(try StoreSnapshot(store) == before)
    }

    // MARK: - kill -9 and SIGSTOP in the middle of a checkpoint write or an evaluation

    /// Checkpoints of about 8 MB (a 48 × 20000 dense layer and its momentum), one an epoch: each
    /// is written for long enough that its temporary file is seen.
    static func bigCheckpointSpec(_ folder: String, epochs: Int) throws -> String {
        try edit(writeSpec(folder, name: "big", epochs: epochs), [(lastLayer, hidden(20000))])
    }

    @Test("kill -9 while a checkpoint is written: the store is readable, only whole checkpoints are listed, exec resumes and completes")
    func killNineDuringCheckpointWrite() throws {
        let folder = temporaryFolder()
        let spec = try Self.bigCheckpointSpec(folder, epochs: 4)
        let store = folder + "/s.sqlite"
        let exec = try startBounded(["exec", spec, "--store", store, "--quiet"])
        let caught = stopWhileWritingCheckpoint(exec, store: store)
        kill(exec.pid, SIGKILL)
        _ = exec.finish()
        #expect(caught, "no checkpoint write was caught in progress")
        try expectIntact(store, "kill -9 mid-checkpoint")
        try expectCheckpointsWhole(store)
        #expect(try scalar(store, "SELECT status FROM runs") == .text("running"))

        let resumed = try bounded(["exec", spec, "--store", store, "--quiet"])
        resumed.expectExited(0, "resumed")
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done FROM runs") == .text("completed 4"))
        try expectCheckpointsWhole(store)
    }

    @Test("kill -9 during an evaluation: the store is readable, the epoch is not counted, exec resumes and completes")
    func killNineDuringEvaluation() throws {
        let folder = temporaryFolder()
        let spec = try Self.writeLongEvaluationSpec(folder)
        let store = folder + "/s.sqlite"
        let exec = try startBounded(["exec", spec, "--store", store, "--quiet"])
        let evaluating = waitUntilEvaluatingEpochTwo(store)
        kill(exec.pid, SIGKILL)
        _ = exec.finish()
        #expect(evaluating, "epoch 1's checkpoint never appeared")
        try expectIntact(store, "kill -9 mid-evaluation")
        #expect(try scalar(store, "SELECT epochs_done FROM runs") == .integer(1), "the kill came after epoch 2's evaluation")
        #expect(try scalar(store, "SELECT COUNT(*) FROM metrics WHERE name = 'test_accuracy' AND epoch = 2") == .integer(0))
        try expectCheckpointsWhole(store)

        let resumed = try bounded(["exec", spec, "--store", store, "--quiet"])
        resumed.expectExited(0, "resumed")
        #expect(resumed.result.stderr.contains("run 1: resumed from epoch 1"), "\(resumed.result.stderr)")
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done FROM runs") == .text("completed 2"))
    }

    @Test("SIGSTOP then SIGCONT, shorter than the stale limit, during a checkpoint write and during an evaluation: the run completes as usual",
          arguments: ["checkpoint", "evaluation"])
    func shortStop(during: String) throws {
        let folder = temporaryFolder()
        let spec = during == "checkpoint" ? try Self.bigCheckpointSpec(folder, epochs: 3) : try Self.writeLongEvaluationSpec(folder)
        let store = folder + "/s.sqlite"
        let exec = try startBounded(["exec", spec, "--store", store, "--quiet"])
        let caught = during == "checkpoint" ? stopWhileWritingCheckpoint(exec, store: store)
                                            : waitUntilEvaluatingEpochTwo(store) && kill(exec.pid, SIGSTOP) == 0
        Thread.sleep(forTimeInterval: 2)
        kill(exec.pid, SIGCONT)
        #expect(caught, "\(during): not caught in progress")
        let outcome = exec.finish()
        outcome.expectExited(0, during)
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done FROM runs") == .text(during == "checkpoint" ? "completed 3" : "completed 2"))
        try expectIntact(store, during)
        try expectCheckpointsWhole(store)
    }

    @Test("SIGSTOP longer than --stale-after during a checkpoint write and during an evaluation: another exec takes the run over and completes it; the stopped one, continued, stops without writing more",
          arguments: ["checkpoint", "evaluation"])
    func longStopTakenOver(during: String) throws {
        let folder = temporaryFolder()
        let spec = during == "checkpoint" ? try Self.bigCheckpointSpec(folder, epochs: 4) : try Self.writeLongEvaluationSpec(folder)
        let store = folder + "/s.sqlite"
        let fast = ["--stale-after", "2", "--heartbeat-interval", "0.5"]
        let stopped = try startBounded(["exec", spec, "--store", store, "--quiet"] + fast, seconds: 300)
        let caught = during == "checkpoint" ? stopWhileWritingCheckpoint(stopped, store: store)
                                            : waitUntilEvaluatingEpochTwo(store) && kill(stopped.pid, SIGSTOP) == 0
        #expect(caught, "\(during): not caught in progress")
        Thread.sleep(forTimeInterval: 3)
        let other = try bounded(["exec", spec, "--store", store, "--quiet"] + fast)
        other.expectExited(0, "\(during): the other exec")
        #expect(other.result.stderr.contains("run 1: resumed"), "\(other.result.stderr)")
        let completed = try StoreSnapshot(store)
        #expect(try scalar(store, "SELECT status FROM runs") == .text("completed"))

        kill(stopped.pid, SIGCONT)
        let continued = stopped.finish()
        continued.expectExited(0, "\(during): the stopped exec, continued")
        #expect(continued.result.stderr.contains("run 1 was taken over by "), "\(continued.result.stderr)")
        let after = try StoreSnapshot(store)
        #expect(after.runs == completed.runs && after.metrics == completed.metrics, "\(during): the stopped exec wrote rows after it lost the run")
        // The stopped exec's own temporary file (it was stopped while writing it) goes; nothing else changes.
        let placed = completed.files.filter { !$0.key.contains(".tmp-") }
        #expect(after.checkpoints == completed.checkpoints && after.files == placed,
                "\(during): the stopped exec wrote a checkpoint after it lost the run: \(completed.checkpoints) \(completed.files) → \(after.checkpoints) \(after.files)")
        try expectIntact(store, during)
        try expectCheckpointsWhole(store)
    }
}

// MARK: - Specs and timing

extension HostileStorageTests {
    /// One training step an epoch, then 60,000 test images: the evaluation takes seconds.
    static func writeLongEvaluationSpec(_ folder: String) throws -> String {
        try edit(writeSpec(folder, name: "eval", epochs: 2, trainSize: 32), [(#""test_size": 64"#, #""test_size": 60000"#)])
    }

    /// `writeSpec`'s output layer, and the same behind a dense layer of `units`.
    static let lastLayer = #"{ "flatten": {} }, { "dense": { "units": 3 } }"#
    static func hidden(_ units: Int) -> String { #"{ "flatten": {} }, { "dense": { "units": \#(units) } }, { "dense": { "units": 3 } }"# }
}

/// Replaces text in a spec file (each original must be there); returns its path.
private func edit(_ spec: String, _ replacements: [(String, String)]) throws -> String {
    var text = try String(contentsOfFile: spec, encoding: .utf8)
    for (original, replacement) in replacements {
        try #require(text.contains(original), "\(original) is not in \(spec)")
        text = text.replacingOccurrences(of: original, with: replacement)
    }
    try text.write(toFile: spec, atomically: true, encoding: .utf8)
    return spec
}

/// Polls the run's artifacts folder until a checkpoint's temporary file appears, then stops the
/// process with SIGSTOP: if the temporary file is still there, the process is frozen between
/// creating it and renaming it into place. False if none was caught before the run ended.
private func stopWhileWritingCheckpoint(_ exec: BoundedRunner, store: String) -> Bool {
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline && exec.process.isRunning {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: store + ".artifacts")) ?? []
        for run in folders {
            let folder = store + ".artifacts/" + run
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder),
                  let temporary = names.first(where: { $0.contains(".tmp-") }) else { continue }
            kill(exec.pid, SIGSTOP)
            if FileManager.default.fileExists(atPath: folder + "/" + temporary) { return true }
            kill(exec.pid, SIGCONT)
        }
        usleep(500)
    }
    return false
}

/// Waits until epoch 1's checkpoint is recorded, then a moment more: epoch 2's one training step
/// takes milliseconds, its evaluation seconds, so the run is then evaluating.
private func waitUntilEvaluatingEpochTwo(_ store: String) -> Bool {
    let recorded = waitUntil(seconds: 120) { (try? scalar(store, "SELECT COUNT(*) FROM checkpoints WHERE epoch = 1"))?.double == 1 }
    Thread.sleep(forTimeInterval: 0.5)
    return recorded
}

// MARK: - Running runner with a watchdog

/// A `runner` process that is killed, and the test failed, if it runs longer than it may.
final class BoundedRunner: @unchecked Sendable {
    let launched: (Process, Pipe, Pipe)
    private let lock = NSLock()
    private var killedByWatchdog = false
    let seconds: Double

    var process: Process { launched.0 }
    var pid: Int32 { launched.0.processIdentifier }

    init(_ arguments: [String], seconds: Double) throws {
        self.seconds = seconds
        launched = try launch(arguments)
        let process = launched.0
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard process.isRunning else { return }
            lock.withLock { killedByWatchdog = true }
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
        }
    }

    func finish() -> BoundedOutcome {
        let result = finishLaunched(launched)
        return BoundedOutcome(arguments: process.arguments ?? [], result: result, signalled: process.terminationReason == .uncaughtSignal,
                              hung: lock.withLock { killedByWatchdog }, seconds: seconds)
    }
}

/// `finish` of Support.swift, under a name of its own (a method here is called `finish` too).
private func finishLaunched(_ launched: (Process, Pipe, Pipe)) -> Result { finish(launched) }

struct BoundedOutcome {
    var arguments: [String]
    var result: Result
    var signalled: Bool
    var hung: Bool
    var seconds: Double

    /// Exited by itself, with `code`.
    func expectExited(_ code: Int32, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!hung, "\(name): runner \(arguments) did not end within \(Int(seconds)) s and was killed", sourceLocation: sourceLocation)
        #expect(!signalled, "\(name): runner was killed by signal \(result.status)\n\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.status == code, "\(name): exit \(result.status), not \(code)\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    /// Standard error holds, apart from the sweep's opening line (`after`, a prefix), exactly one
    /// line, and it holds every fragment.
    func expectOneLine(after opening: String?, _ fragments: [String], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var lines = result.stderr.split(separator: "\n").map(String.init)
        if let opening, lines.first?.hasPrefix(opening) == true { lines.removeFirst() }
        #expect(lines.count == 1 && fragments.allSatisfy { lines[0].contains($0) },
                "\(name): expected one line holding \(fragments), got:\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    /// Of standard error's lines (progress among them), exactly one holds `marker`, and it holds every fragment.
    func expectOneLine(matching marker: String, _ fragments: [String], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = result.stderr.split(separator: "\n").map(String.init).filter { $0.contains(marker) }
        #expect(lines.count == 1 && fragments.allSatisfy { lines[0].contains($0) },
                "\(name): expected one line holding \(fragments), got:\n\(result.stderr)", sourceLocation: sourceLocation)
    }
}

private func bounded(_ arguments: [String], seconds: Double = 180) throws -> BoundedOutcome {
    try BoundedRunner(arguments, seconds: seconds).finish()
}

private func startBounded(_ arguments: [String], seconds: Double = 180) throws -> BoundedRunner {
    try BoundedRunner(arguments, seconds: seconds)
}

// MARK: - What "the store as it was" means

/// The rows of runs, metrics and checkpoints, and the artifacts folder's files (name → SHA-256,
/// or what kind of file it is).
struct StoreSnapshot: Equatable {
    var runs: [[SQLValue]]
    var metrics: [[SQLValue]]
    var checkpoints: [[SQLValue]]
    var files: [String: String]

    init(_ store: String) throws {
        let reader = try StoreReader(path: store)
        runs = try reader.query("SELECT * FROM runs ORDER BY id").rows
        metrics = try reader.query("SELECT * FROM metrics ORDER BY rowid").rows
        checkpoints = try reader.query("SELECT * FROM checkpoints ORDER BY run_id, epoch").rows
        files = [:]
        let root = store + ".artifacts"
        for relative in (FileManager.default.subpaths(atPath: root) ?? []) {
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG: files[relative] = CheckpointFile.sha256([UInt8](FileManager.default.contents(atPath: path) ?? Data()))
            case S_IFDIR: files[relative] = "folder"
            default: files[relative] = "mode \(info.st_mode & S_IFMT)"
            }
        }
    }
}

/// The store opens and passes SQLite's integrity check.
private func expectIntact(_ store: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try scalar(store, "PRAGMA integrity_check") == .text("ok"), "\(name): integrity_check", sourceLocation: sourceLocation)
}

/// Every recorded checkpoint's file is there, whole: its size and SHA-256 those the store recorded.
private func expectCheckpointsWhole(_ store: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let rows = try StoreReader(path: store).query("SELECT r.uuid, c.path, c.bytes, c.sha256 FROM checkpoints c JOIN runs r ON r.id = c.run_id").rows
    for row in rows {
        let file = RunStore.artifactsFolder(storePath: store, runUUID: row[0].string ?? "") + "/" + (row[1].string ?? "")
        let bytes = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
        #expect(Double(bytes.count) == row[2].double && CheckpointFile.sha256(bytes) == row[3].string,
                "\(file) is not the checkpoint the store recorded", sourceLocation: sourceLocation)
    }
}

private func uuid(_ store: String, runIndex: Int) throws -> String {
    try #require(try scalar(store, "SELECT uuid FROM runs WHERE run_index = \(runIndex)").string)
}

private func artifactsFolder(_ store: String, runIndex: Int) throws -> String {
    RunStore.artifactsFolder(storePath: store, runUUID: try uuid(store, runIndex: runIndex))
}

// MARK: - Mounts (the tests run as root; CI does too)

/// Runs a system command; throws with its output when it fails.
private func runSystem(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw MountFailure(command: arguments.joined(separator: " "), output: text) }
}

struct MountFailure: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String {
        "`\(command)` failed (\(output.trimmingCharacters(in: .whitespacesAndNewlines))): these tests need root and permission to mount (CI runs them as root)"
    }
}

/// A tmpfs of a few megabytes on a folder of its own: a disk that can be filled, enlarged or made read-only.
struct ScratchDisk {
    let path: String

    init(megabytes: Int) throws {
        path = temporaryFolder()
        try runSystem(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
    }

    func remount(_ options: String) throws {
        try runSystem(["mount", "-o", "remount,\(options)", path])
    }

    func unmount() {
        try? runSystem(["umount", "-l", path])
    }
}

/// A file made read-only by binding it read-only onto itself.
struct ReadOnlyBind {
    let path: String

    init(_ path: String) throws {
        self.path = path
        try runSystem(["mount", "--bind", path, path])
        do { try runSystem(["mount", "-o", "remount,bind,ro", path]) } catch {
            try? runSystem(["umount", path])
            throw error
        }
    }

    func unmount() {
        try? runSystem(["umount", path])
    }
}
