import Foundation
import Testing
@testable import RunStore
import TestSupport

@Suite("A run deleted while its sweep trains", .serialized)
struct SweepDeletionTests {
    @Test("runs rm of a queued run during a sweep: the sweep says so once and trains the others")
    func deletedQueuedRun() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let spec = writeSpec(folder, epochs: 3, trainSize: 1024, extra: #", "matrix": { "seeds": [1, 2, 3, 4] }"#)
        let sweep = try launch(["exec", spec, "--store", store, "--quiet"])
        // Once run 1 trains, run 4 is queued: delete it.
        let running = waitUntil(seconds: 60) {
            (try? scalar(store, "SELECT COUNT(*) FROM runs WHERE id = 1 AND status = 'running'")) == .integer(1)
        }
        #expect(running)
        let removal = try runner("runs", "rm", "4", "--yes", "--store", store)
        #expect(removal.status == 0, "\(removal.stderr)")
        let result = finish(sweep)
        #expect(result.status == 1, "\(result.stderr)")     // not every run of the sweep completed
        #expect(result.stderr.components(separatedBy: "was deleted while this sweep ran; it is not trained").count == 2, "\(result.stderr)")
        #expect(!result.stderr.contains("could not write to the store"))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(3))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE id = 4") == .integer(0))
    }
}
