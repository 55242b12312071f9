import Foundation
import Testing
@testable import RunnerKit
import TestSupport

@Suite("Reading a spec file: size limit and byte order marks")
struct SpecFileTests {
    func loadError(_ path: String) -> SpecError? {
        do { _ = try SpecLoader.load(file: path); return nil } catch { return error }
    }

    @Test("one leading byte order mark is skipped; a second is refused at line 1, column 1")
    func twoByteOrderMarks() throws {
        let path = temporaryPath("bom.json")
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        _ = FileManager.default.createFile(atPath: path, contents: Data(bom + Array(smokeSpec().utf8)))
        #expect(try SpecLoader.load(file: path).runs.count == 1)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bom + bom + Array(smokeSpec().utf8)))
        let error = try #require(loadError(path))
        #expect(error.issues.count == 1)
        #expect(error.description == "\(path):1:1: JSON syntax error: a second byte order mark (U+FEFF); only one may open the file — remove the other",
                "\(error)")
    }

    @Test("a sparse 300 MB spec is refused by its size in one line naming the file, the size and the limit")
    func oversizedFile() throws {
        let path = temporaryPath("huge.json")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: 300_000_000 - 1)
        try handle.write(contentsOf: Data("}".utf8))
        try handle.close()
        let error = try #require(loadError(path))
        #expect(error.description == "\(path): is 300000000 bytes; a spec file may be at most 4194304 bytes (4 MiB) — is it the right file?", "\(error)")
    }

    @Test("the limit holds for what is read, not only for what stat says: a pipe that sends more is refused, one at the limit is read")
    func oversizedPipe() throws {
        for (count, refused) in [(SpecFile.maximumBytes + 1, true), (SpecFile.maximumBytes, false)] {
            let path = temporaryPath("fifo.json")
            #expect(mkfifo(path, 0o600) == 0)
            // Whitespace around an empty object: valid JSON of exactly `count` bytes.
            let body = Data("{}".utf8) + Data(repeating: 0x20, count: count - 2)
            let writer = Thread {
                guard let handle = FileHandle(forWritingAtPath: path) else { return }
                try? handle.write(contentsOf: body)
                try? handle.close()
            }
            writer.start()
            do {
                let text = try SpecFile.text(of: path)
                #expect(!refused && text.utf8.count == count)
            } catch {
                #expect(refused, "\(error)")
                #expect(error.description == "\(path): is larger than the limit (it grew while read, or is a pipe); a spec file may be at most 4194304 bytes (4 MiB) — is it the right file?")
            }
        }
    }
}
