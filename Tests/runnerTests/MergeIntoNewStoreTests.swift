import Foundation
import Testing
@testable import RunStore
import TestSupport

/// A store of 4 runs with `rows` metric rows each, no checkpoints: big enough that merging it
/// takes a while.
func makeBigStore(_ path: String, rows: Int = 100_000) throws {
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "big", specPath: "big.json", specJSON: "{}", specHash: "big")
    let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
    for index in 1...4 {
        let run = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}",
                                             specHash: "r\(index)", seed: 1, epochsPlanned: 1, provenance: provenance, params: []))
        var batch = RecordBatch()
        batch.metrics = (0..<rows).map { .init(name: "train_loss", step: $0, epoch: Double($0) / 1000, value: 1 / Double($0 + 1), wallTime: 0) }
        try store.append(batch, run: run, epochsDone: 1, stepsDone: rows)
    }
    try store.checkpointAndClose()
}

/// The folders merges into `out` build it in (`.<name>.merging-…`), beside it.
func stagingFolders(of out: String) -> [String] {
    let folder = (out as NSString).deletingLastPathComponent, prefix = "." + (out as NSString).lastPathComponent + ".merging-"
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(prefix) }.map { folder + "/" + $0 }
}

/// Every checkpoint OUT records, with whether its file is there with the recorded SHA-256.
func checkpointFiles(_ store: String) throws -> [String: Bool] {
    var files: [String: Bool] = [:]
    for row in try StoreReader(path: store).query("SELECT r.uuid, c.path, c.sha256 FROM checkpoints c JOIN runs r ON r.id = c.run_id").rows {
        let file = RunStore.artifactsFolder(storePath: store, runUUID: row[0].string ?? "") + "/" + (row[1].string ?? "")
        files[file.replacingOccurrences(of: store, with: "OUT")] = (try? DataFileHash.sha256(file: file)) == row[2].string
    }
    return files
}

@Suite("runner merge into a store that does not exist yet: built beside it, then moved into place", .serialized)
struct MergeIntoNewStoreTests {
    @Test("a new OUT holds the same rows and checkpoint files as a merge into an existing empty store, and no folder is left beside it")
    func sameRowsAsIntoAnEmptyStore() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 2, extra: #", "matrix": { "seeds": [1, 2] }"#)
        let input = folder + "/in.sqlite"
        #expect(try runner("exec", spec, "--store", input, "--quiet").status == 0)
        let empty = folder + "/empty.sqlite"
        try RunStore(path: empty).close()
        #expect(try runner("merge", empty, input, "--quiet").status == 0)
        let fresh = folder + "/fresh.sqlite"
        let merge = try runner("merge", fresh, input)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.stdout.contains("2 runs added"), "\(merge.stdout)")
        // The store is whole in its one file.
        #expect(!FileManager.default.fileExists(atPath: fresh + "-wal"))
        #expect(try snapshot(fresh) == snapshot(empty))
        let files = try checkpointFiles(fresh)
        #expect(files.count == 2 && files.values.allSatisfy { $0 }, "\(files)")
        #expect(files == (try checkpointFiles(empty)))
        #expect(stagingFolders(of: fresh).isEmpty)
        #expect(try StoreReader(path: fresh).query("PRAGMA integrity_check").rows == [[.text("ok")]])
    }

    @Test("checkpoint files left in OUT.artifacts without an OUT (a merge killed between its two moves) are written over, and a dead merge's folder is removed, whether OUT exists or not")
    func leftoversAreReplaced() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1)
        let input = folder + "/in.sqlite"
        #expect(try runner("exec", spec, "--store", input, "--quiet").status == 0)
        let out = folder + "/out.sqlite"
        let uuid = try #require(try scalar(input, "SELECT uuid FROM runs").string)
        let name = try #require(try scalar(input, "SELECT path FROM checkpoints").string)
        let stale = RunStore.artifactsFolder(storePath: out, runUUID: uuid)
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: stale + "/" + name, contents: Data("half a checkpoint".utf8)))
        let dead = folder + "/.out.sqlite.merging-dead"
        try FileManager.default.createDirectory(atPath: dead + "/out.sqlite.artifacts", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dead + "/out.sqlite", contents: Data("half a store".utf8)))

        let merge = try runner("merge", out, input, "--quiet")
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try checkpointFiles(out) == ["OUT.artifacts/\(uuid)/\(name)": true])
        #expect(stagingFolders(of: out).isEmpty)
        // Beside an OUT that exists (a merge killed after it had put OUT in place) too; the folder
        // of a merge still running (its lock held) stays.
        try FileManager.default.createDirectory(atPath: dead, withIntermediateDirectories: true)
        let live = folder + "/.out.sqlite.merging-live"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        let lock = open(live, O_RDONLY | O_DIRECTORY)
        defer { close(lock) }
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        #expect(try runner("merge", out, input, "--quiet").status == 0)
        #expect(stagingFolders(of: out) == [live])
    }

    @Test("kill -9 at several moments of a merge into a new OUT: OUT is absent or complete; the next merge completes it and removes what the killed one left")
    func killedAtSeveralMoments() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1)
        let small = folder + "/small.sqlite"
        #expect(try runner("exec", spec, "--store", small, "--quiet").status == 0)
        let big = folder + "/big.sqlite"
        try makeBigStore(big)
        let reference = folder + "/reference.sqlite"
        #expect(try runner("merge", reference, small, big, "--quiet").status == 0)
        let expected = try snapshot(reference)
        let expectedFiles = try checkpointFiles(reference)
        #expect(expectedFiles.count == 1 && expectedFiles.values.allSatisfy { $0 })

        let out = folder + "/out.sqlite"
        func staged(_ suffix: String) -> String? { stagingFolders(of: out).first.map { $0 + "/out.sqlite" + suffix } }
        func size(_ path: String?) -> Int64 {
            var info = stat()
            guard let path, stat(path, &info) == 0 else { return -1 }
            return Int64(info.st_size)
        }
        // (moment, whether the merge must still be running then, how to see that it has come)
        let moments: [(String, Bool, () -> Bool)] = [
            ("its folder is made", true, { staged("") != nil }),
            ("the small input's checkpoint is copied", true, { size(staged(".artifacts")) >= 0 }),
            ("the big input's rows are being copied", true, { size(staged("-wal")) > 2_000_000 }),
            ("the log is being folded into the store", false, { size(staged("")) > 1_000_000 || size(out) >= 0 }),
        ]
        for (moment, mustBeRunning, reached) in moments {
            let merge = try launch(["merge", out, small, big])
            let came = waitUntil(seconds: 120) { reached() }
            kill(merge.0.processIdentifier, SIGKILL)
            let result = finish(merge)
            #expect(came, "\(moment): never came: \(result.stderr)")
            if mustBeRunning {
                #expect(merge.0.terminationReason == .uncaughtSignal, "\(moment): the merge ended before it was killed: \(result.stdout)")
            }
            if FileManager.default.fileExists(atPath: out) {
                #expect(try snapshot(out) == expected, "\(moment)")
                #expect(try checkpointFiles(out) == expectedFiles, "\(moment)")
            }
            #expect(!FileManager.default.fileExists(atPath: out + "-wal") || FileManager.default.fileExists(atPath: out), "\(moment)")

            let again = try runner("merge", out, small, big, "--quiet")
            #expect(again.status == 0, "\(moment): \(again.stderr)")
            #expect(try snapshot(out) == expected, "\(moment)")
            #expect(try checkpointFiles(out) == expectedFiles, "\(moment)")
            #expect(stagingFolders(of: out).isEmpty, "\(moment)")
            for suffix in ["", "-wal", "-shm"] { unlink(out + suffix) }
            try FileManager.default.removeItem(atPath: out + ".artifacts")
        }
    }
}
