import Foundation
import Testing
@testable import RunStore
import TestSupport

@Suite("A process that lost its run touches none of the new owner's rows")
struct ClaimOwnershipTests {
    @Test("discardRecords and recordProvenance with another claimant: false, nothing deleted or overwritten")
    func lostClaim() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET status = 'queued' WHERE id = 1") }
        #expect(try store.claimRun(1, staleAfter: 60, claimant: "h:1"))
        var batch = RecordBatch()
        batch.metrics = [.init(name: "train_loss", step: 5, epoch: 1, value: 0.5, wallTime: 1)]
        #expect(try store.append(batch, run: 1, epochsDone: 1, stepsDone: 5, claimant: "h:1"))
        let other = RunProvenance(host: "intruder", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
        #expect(try !store.discardRecords(run: 1, after: nil, claimant: "h:2"))
        #expect(try !store.recordProvenance(run: 1, other, claimant: "h:2"))
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE run_id = 1").rows[0][0] == .integer(2))
        #expect(try reader.query("SELECT host FROM runs WHERE id = 1").rows[0][0] != .text("intruder"))
        // The owner may.
        #expect(try store.recordProvenance(run: 1, other, claimant: "h:1"))
        #expect(try store.discardRecords(run: 1, after: nil, claimant: "h:1"))
        #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE run_id = 1").rows[0][0] == .integer(0))
    }
}
