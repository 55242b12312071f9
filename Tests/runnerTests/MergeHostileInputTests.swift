import Foundation
import Testing
@testable import RunStore
import TestSupport

/// The files of OUT's artifacts folder, with their contents.
func artifactFiles(_ store: String) -> [String: Data] {
    let root = store + ".artifacts"
    var files: [String: Data] = [:]
    for file in FileManager.default.subpaths(atPath: root) ?? [] {
        if let data = FileManager.default.contents(atPath: root + "/" + file) { files[file] = data }
    }
    return files
}

@Suite("runner merge given damaged inputs, an input being written, or a changed checkpoint file", .serialized)
struct MergeHostileInputTests {
    /// A store of a finished `runner exec` (2 runs, their checkpoints) in `folder`, and OUT made
    /// from another one.
    func stores(_ folder: String) throws -> (input: String, out: String) {
        let spec = writeSpec(folder, epochs: 2, trainSize: 512, extra: #", "matrix": { "seeds": [1, 2] }"#)
        let input = folder + "/in.sqlite"
        #expect(try runner("exec", spec, "--store", input, "--quiet").status == 0)
        let other = writeSpec(folder, name: "other", epochs: 1)
        let source = folder + "/other.sqlite"
        #expect(try runner("exec", other, "--store", source, "--quiet").status == 0)
        let out = folder + "/out.sqlite"
        #expect(try runner("merge", out, source, "--quiet").status == 0)
        return (input, out)
    }

    /// Merges `input` into the existing OUT and into a new one, expecting exit 2 with one line
    /// that names `names` and says `message`; OUT's rows and files stay, the new OUT is not made.
    func expectRefused(_ input: String, out: String, names: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try snapshot(out), files = artifactFiles(out)
        let fresh = (out as NSString).deletingLastPathComponent + "/fresh.sqlite"
        for target in [out, fresh] {
            let result = try runner("merge", target, input, "--quiet")
            #expect(result.status == 2, "\(target): \(result.stderr)", sourceLocation: sourceLocation)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: \(names): ") && lines[0].contains(message), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, "\(result.stdout)", sourceLocation: sourceLocation)
        }
        #expect(try snapshot(out) == rows, sourceLocation: sourceLocation)
        #expect(artifactFiles(out) == files, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: fresh), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: fresh + ".artifacts"), sourceLocation: sourceLocation)
        #expect(stagingFolders(of: fresh).isEmpty, sourceLocation: sourceLocation)
    }

    @Test("an input with bytes overwritten in the middle: exit 2, one line naming it; OUT unchanged, no new OUT")
    func corruptedInput() throws {
        let folder = temporaryFolder()
        let (input, out) = try stores(folder)
        #expect(!FileManager.default.fileExists(atPath: input + "-wal"))
        let handle = try #require(FileHandle(forUpdatingAtPath: input))
        let pages = try handle.seekToEnd() / 4096
        #expect(pages > 10)
        try handle.seek(toOffset: pages / 2 * 4096)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
        try handle.close()
        try expectRefused(input, out: out, names: input, "is damaged")
    }

    @Test("an input cut short: exit 2, one line naming it; OUT unchanged, no new OUT")
    func truncatedInput() throws {
        let folder = temporaryFolder()
        let (input, out) = try stores(folder)
        let handle = try #require(FileHandle(forUpdatingAtPath: input))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size / 2 + 100)
        try handle.close()
        try expectRefused(input, out: out, names: input, "is damaged")
    }

    @Test("a checkpoint file of an input missing, or changed: exit 2, one line naming the file; OUT unchanged, no new OUT")
    func checkpointFileMissingOrChanged() throws {
        let folder = temporaryFolder()
        let (input, out) = try stores(folder)
        let rows = try StoreReader(path: input).query("SELECT r.uuid, c.path FROM checkpoints c JOIN runs r ON r.id = c.run_id ORDER BY r.run_index").rows
        #expect(rows.count == 2)
        let files = rows.map { RunStore.artifactsFolder(storePath: input, runUUID: $0[0].string ?? "") + "/" + ($0[1].string ?? "") }
        // The second run's file: the first run's rows and file are already in the merge when it fails.
        let original = try #require(FileManager.default.contents(atPath: files[1]))
        var changed = original
        changed[changed.count / 2] ^= 0xFF
        #expect(FileManager.default.createFile(atPath: files[1], contents: changed))
        try expectRefused(input, out: out, names: files[1], "does not match the checkpoint")
        try FileManager.default.removeItem(atPath: files[1])
        try expectRefused(input, out: out, names: files[1], "cannot be read (missing?)")
    }

    @Test("an input being written by a live runner exec: the merge copies one consistent moment of it, and merging again after the run completes it")
    func inputBeingWritten() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 12, trainSize: 3000, extra: #", "checkpoint": { "every_epochs": 1, "keep": "all" }"#)
        let input = folder + "/live.sqlite"
        let exec = try launch(["exec", spec, "--store", input])
        let out = folder + "/out.sqlite"
        var merges = 0, runningSeen = false
        // Merge while the run writes, several times, each into a new OUT.
        while exec.0.isRunning && merges < 3 {
            guard waitUntil(seconds: 60, { ((try? scalar(input, "SELECT COUNT(*) FROM checkpoints"))?.double ?? 0) > Double(merges) }) else { break }
            let result = try runner("merge", out, input, "--quiet")
            merges += 1
            #expect(result.status == 0, "\(result.stderr)")
            // One moment of the run: its progress, metrics and checkpoints agree with each other.
            let run = try StoreReader(path: out).query("SELECT epochs_done, steps_done, status FROM runs").rows
            runningSeen = runningSeen || run.first?[2] == .text("running")
            let epochs = try #require(run.first?[0].double), steps = try #require(run.first?[1].double)
            // A checkpoint is recorded after the epoch that made it.
            #expect((try scalar(out, "SELECT COUNT(*) FROM checkpoints").double ?? -1) <= epochs, "\(run)")
            #expect(try scalar(out, "SELECT COUNT(*) FROM metrics WHERE name = 'train_loss' AND step > \(Int(steps))") == .integer(0), "\(run)")
            #expect(try scalar(out, "SELECT COUNT(*) FROM metrics WHERE name = 'train_loss' AND step <= \(Int(steps))") != .integer(0), "\(run)")
            #expect(try checkpointFiles(out).values.allSatisfy { $0 })
            #expect(try StoreReader(path: out).query("PRAGMA integrity_check").rows == [[.text("ok")]])
            for suffix in ["", "-wal", "-shm"] { unlink(out + suffix) }
            try? FileManager.default.removeItem(atPath: out + ".artifacts")
        }
        let ran = finish(exec)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(runningSeen, "no merge copied the run while it ran (\(merges) merges): make the run longer")
        let done = try runner("merge", out, input, "--quiet")
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try scalar(out, "SELECT status || ' ' || epochs_done FROM runs") == .text("completed 12"))
    }
}
