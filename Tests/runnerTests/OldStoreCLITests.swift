import Foundation
import Testing
@testable import RunStore
import TestSupport

@Suite("A store written by the first release, used by this one")
struct OldStoreCLITests {
    static let fixtures = packageRoot + "/Tests/RunStoreTests/Fixtures"

    @Test("exec of the same spec says the old experiment is not continued, upgrades the store, and trains a new experiment")
    func continueAfterUpgrade() throws {
        let folder = temporaryFolder()
        let store = folder + "/old.sqlite"
        try FileManager.default.copyItem(atPath: Self.fixtures + "/store-v1.sqlite", toPath: store)
        let spec = Self.fixtures + "/store-v1.json"
        let dry = try runner("exec", spec, "--store", store, "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("was run as experiment 1 by an older ConvLab, which did not track sweeps"), "\(dry.stdout)")
        let result = try runner("exec", spec, "--store", store, "--quiet")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("was run as experiment 1 by an older ConvLab, which did not track sweeps, so that experiment is not continued"),
                "\(result.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE experiment_id = 1 AND status = 'completed'") == .integer(2))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE experiment_id = 2 AND status = 'completed'") == .integer(2))
    }
}
