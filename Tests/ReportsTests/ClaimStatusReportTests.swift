import Foundation
import Testing
@testable import Reports
@testable import RunStore
import GRDB
import TestSupport

@Suite("The status a report shows for a run whose claimant may be gone")
struct ClaimStatusReportTests {
    /// The status `runner report` shows for one running run with a fresh heartbeat, claimed by a
    /// process of this host that no longer exists, with `identity` beside the claim.
    func status(identity: ClaimantIdentity?) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-claims-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try RunStore(path: folder + "/s.sqlite")
        let experiment = try store.createExperiment(name: "e", specPath: nil, specJSON: "{}", specHash: "e")
        let id = try store.createRun(NewRun(experimentID: experiment, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "r",
                                            seed: 1, epochsPlanned: 1,
                                            provenance: RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b"), params: []))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        #expect(try store.claimRun(id, staleAfter: 60, claimant: "\(RunStore.hostName):\(process.processIdentifier)", identity: identity))
        try store.close()
        var reporter = Reporter(reader: try StoreReader(path: folder + "/s.sqlite"))
        reporter.staleAfter = 3600
        return try #require(try reporter.runRows(RunFilter()).first.map(reporter.displayStatus))
    }

    @Test("gone at once only when the claim's boot id and pid namespace are this machine's; otherwise running until the heartbeat is stale")
    func goneOnlyWhereThePidMeansSomething() throws {
        let here = try #require(ClaimantIdentity.current)
        #expect(try status(identity: here).hasPrefix("stale ("))
        #expect(try status(identity: here).hasSuffix(" is gone)"))
        #expect(try status(identity: ClaimantIdentity(bootID: "another boot", pidNamespace: here.pidNamespace, startTicks: here.startTicks)) == "running")
        #expect(try status(identity: nil) == "running")
    }
}
