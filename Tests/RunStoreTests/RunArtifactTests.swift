import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

func checkpoint(_ run: Int64, epoch: Int, path: String? = nil, sha: String = String(repeating: "c", count: 64)) -> CheckpointRecord {
    CheckpointRecord(runID: run, epoch: epoch, step: epoch * 10, path: path ?? "epoch-\(epoch).safetensors", bytes: 1000 + Int64(epoch),
                     sha256: sha, createdAt: Double(epoch))
}

@Suite("Checkpoint records, the artifacts folder, data-file hashes")
struct RunArtifactTests {
    @Test("checkpoints are listed by epoch, the latest is the highest epoch, and a rewrite of an epoch replaces its record")
    func checkpoints() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 2)
        for epoch in [2, 1, 3] { try store.addCheckpoint(checkpoint(1, epoch: epoch)) }
        try store.addCheckpoint(checkpoint(2, epoch: 1))
        #expect(try store.checkpoints(run: 1).map(\.epoch) == [1, 2, 3])
        #expect(try store.latestCheckpoint(run: 1) == checkpoint(1, epoch: 3))
        try store.addCheckpoint(checkpoint(1, epoch: 3, path: "again.safetensors"))
        #expect(try store.checkpoints(run: 1).count == 3)
        #expect(try store.latestCheckpoint(run: 1)?.path == "again.safetensors")
        try store.deleteCheckpoint(run: 1, epoch: 3)
        #expect(try store.latestCheckpoint(run: 1)?.epoch == 2)
        #expect(try store.checkpoints(run: 2).count == 1)
        #expect(try store.latestCheckpoint(run: 99) == nil)
    }

    @Test("a checkpoint path that leaves the artifacts folder, a bad hash or an unknown run is refused, and nothing is recorded",
          arguments: [checkpoint(1, epoch: 1, path: "../other/epoch-1.safetensors"), checkpoint(1, epoch: 1, path: "/etc/passwd"),
                      checkpoint(1, epoch: 1, path: ""), checkpoint(1, epoch: 1, path: "a//b"), checkpoint(1, epoch: 1, path: "x/../../y"),
                      checkpoint(1, epoch: 1, path: "bad\u{1B}[2J"), checkpoint(1, epoch: 1, sha: "abc"),
                      checkpoint(1, epoch: 1, sha: String(repeating: "g", count: 64)), checkpoint(1, epoch: -1), checkpoint(42, epoch: 1)])
    func badCheckpoints(record: CheckpointRecord) throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        #expect(throws: StoreError.self) { try store.addCheckpoint(record) }
        #expect(try StoreReader(path: path).query("SELECT COUNT(*) FROM checkpoints").rows[0][0] == .integer(0))
    }

    @Test("a run's artifacts folder is <store path>.artifacts/<run uuid>")
    func artifactsFolder() throws {
        let example = "3f2a0000-0000-4000-8000-000000000001"
        #expect(RunStore.artifactsFolder(storePath: "/data/convlab.sqlite", runUUID: example) == "/data/convlab.sqlite.artifacts/" + example)
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        let uuid = try #require(try store.storedRun(1)?.uuid)
        #expect(store.artifactsFolder(runUUID: uuid) == path + ".artifacts/" + uuid)
    }

    @Test("SHA-256 of files matches the digest of their bytes, across the 1 MiB read boundary (seeded sizes)")
    func sha256() throws {
        let folder = (temporaryStorePath() as NSString).deletingLastPathComponent
        let abc = folder + "/abc"
        FileManager.default.createFile(atPath: abc, contents: Data("abc".utf8))
        #expect(try DataFileHash.sha256(file: abc) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var rng = SplitMix(seed: 7)
        for size in [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, Int(rng.next() % 3_000_000)] {
            let data = Data((0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            let file = folder + "/f\(size)"
            FileManager.default.createFile(atPath: file, contents: data)
            #expect(try DataFileHash.sha256(file: file) == DataFileHash.sha256(data), "size \(size)")
        }
        #expect(DataFileHash.sha256(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(throws: StoreError.self) { _ = try DataFileHash.sha256(file: folder + "/missing") }
    }

    @Test("a data file is hashed once per path, size and mtime; a changed file is hashed again")
    func hashCache() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        var computed = 0
        func hash(size: Int64, mtime: Double) throws -> String {
            try store.dataFileHash(path: "/data/train.gz", size: size, mtime: mtime) { () throws(StoreError) -> String in
                computed += 1
                return "h\(computed)"
            }
        }
        #expect(try hash(size: 10, mtime: 1) == "h1")
        #expect(try hash(size: 10, mtime: 1) == "h1")
        #expect(computed == 1)
        #expect(try hash(size: 11, mtime: 1) == "h2")
        #expect(try hash(size: 11, mtime: 2) == "h3")
        #expect(try StoreReader(path: path).query("SELECT COUNT(*) FROM data_files").rows[0][0] == .integer(1))

        // Through the file system: rewriting the file changes size or mtime, so it is hashed again.
        let file = (path as NSString).deletingLastPathComponent + "/data.bin"
        FileManager.default.createFile(atPath: file, contents: Data("abc".utf8))
        #expect(try store.dataFileHash(path: file) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        FileManager.default.createFile(atPath: file, contents: Data("abcd".utf8))
        #expect(try store.dataFileHash(path: file) == DataFileHash.sha256(Data("abcd".utf8)))
    }

    @Test("recordDataFiles keeps each run's files with their hashes")
    func recordDataFiles() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 2)
        let folder = (path as NSString).deletingLastPathComponent
        for name in ["a", "b"] { FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(name.utf8)) }
        let recorded = try store.recordDataFiles(run: 1, files: [folder + "/b", folder + "/./a"])
        #expect(recorded.map(\.path) == [folder + "/b", folder + "/a"])
        let files = try store.dataFiles(run: 1)
        #expect(files.map(\.path) == [folder + "/a", folder + "/b"])
        #expect(files.map(\.sha256) == [DataFileHash.sha256(Data("a".utf8)), DataFileHash.sha256(Data("b".utf8))])
        #expect(try store.dataFiles(run: 2).isEmpty)
        #expect(throws: StoreError.self) { try store.recordDataFiles(run: 2, files: [folder + "/missing"]) }
        #expect(try store.dataFiles(run: 2).isEmpty)
    }
}
