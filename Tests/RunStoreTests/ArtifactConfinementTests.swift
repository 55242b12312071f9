import Foundation
import Testing
@testable import RunStore
import TestSupport

/// A store can be edited by hand or merged from elsewhere: a run UUID or a recorded checkpoint
/// path must never make ConvLab read or delete anything outside `<store>.artifacts/<run uuid>/`.
@Suite("Artifacts stay inside their folder, whatever the store says")
struct ArtifactConfinementTests {
    static let hostileUUIDs = ["../victim", "", "..", "/tmp", "a/b", "ABCDEF01-2345-4678-89AB-CDEF01234567", "00000000-0000-4000-8000-00000000000g"]

    @Test("a run UUID that is not one names no folder but a fixed one inside the artifacts folder", arguments: hostileUUIDs)
    func folderOfHostileUUID(uuid: String) {
        #expect(!RunStore.isRunUUID(uuid))
        #expect(RunStore.artifactsFolder(storePath: "/s/x.sqlite", runUUID: uuid) == "/s/x.sqlite.artifacts/not-a-uuid")
        #expect(RunStore.isRunUUID(UUID().uuidString.lowercased()))
    }

    @Test("a recorded checkpoint path that leaves the run's folder, or a bad run UUID, is refused")
    func checkpointFile() throws {
        let uuid = UUID().uuidString.lowercased()
        #expect(try RunStore.checkpointFile(storePath: "/s/x.sqlite", runUUID: uuid, path: "epoch-0001.safetensors")
                == "/s/x.sqlite.artifacts/\(uuid)/epoch-0001.safetensors")
        for path in ["../../../../dev/zero", "/etc/passwd", "", "a//b", "epoch/../../x"] {
            #expect(throws: StoreError.self, "\(path)") { try RunStore.checkpointFile(storePath: "/s/x.sqlite", runUUID: uuid, path: path) }
        }
        #expect(throws: StoreError.self) { try RunStore.checkpointFile(storePath: "/s/x.sqlite", runUUID: "../victim", path: "epoch-0001.safetensors") }
    }

    @Test("runs rm of a run whose UUID was edited to '../victim' deletes its rows and no folder outside the artifacts folder")
    func deleteKeepsOutsideFolders() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        let folder = (path as NSString).deletingLastPathComponent
        let victim = folder + "/victim"
        try FileManager.default.createDirectory(atPath: victim + "/inside", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + ".artifacts", withIntermediateDirectories: true)
        try setUUID(store, 1, "../victim")
        let deletion = try store.deleteRuns([1], staleAfter: 60)
        #expect(deletion.ids == [1] && deletion.removedFolders.isEmpty)
        #expect(FileManager.default.fileExists(atPath: victim + "/inside"))
    }
}

@Suite("runs rm and a run whose process is gone")
struct DeleteGoneRunTests {
    @Test("a running run with a fresh heartbeat is refused while its process lives, and deletable once it is gone")
    func goneProcess() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 2)
        let host = RunStore.hostName
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let now = Date().timeIntervalSince1970
        let identity = try #require(ClaimantIdentity.current)
        _ = try store.write { db in
            try db.execute(sql: "UPDATE runs SET claimant_boot_id = ?, claimant_pid_namespace = ?, claimant_start_ticks = ?",
                           arguments: [identity.bootID, identity.pidNamespace, identity.startTicks])
            try db.execute(sql: "UPDATE runs SET status = 'running', heartbeat_at = ?, claimed_by = ? WHERE id = 1",
                           arguments: [now, "\(host):\(getpid())"])
            try db.execute(sql: "UPDATE runs SET status = 'running', heartbeat_at = ?, claimed_by = ? WHERE id = 2",
                           arguments: [now, "\(host):\(finished.processIdentifier)"])
        }
        #expect(throws: StoreError.self) { _ = try store.deleteRuns([1], staleAfter: 60, now: now) }
        #expect(try store.deleteRuns([2], staleAfter: 60, now: now).ids == [2])
    }
}
