import Foundation
import Testing
import TestSupport

@Suite("A spec file larger than the limit, given to the runner")
struct SpecSizeCLITests {
    @Test("runner validate and runner exec refuse a sparse 300 MB spec by its size: exit 2, the file, its size and the limit in one line, no store")
    func oversizedSpec() throws {
        let folder = temporaryFolder()
        let spec = folder + "/huge.json"
        #expect(FileManager.default.createFile(atPath: spec, contents: Data("{".utf8)))
        let handle = try #require(FileHandle(forWritingAtPath: spec))
        try handle.seek(toOffset: 300_000_000 - 1)
        try handle.write(contentsOf: Data("}".utf8))
        try handle.close()
        let store = folder + "/s.sqlite"
        for arguments in [["validate", spec], ["exec", spec, "--store", store]] {
            let result = try finish(launch(arguments))
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            let line = "\(spec): is 300000000 bytes; a spec file may be at most 4194304 bytes (4 MiB) — is it the right file?"
            #expect(result.stderr.split(separator: "\n").first.map(String.init) == line, "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: store))
    }
}
