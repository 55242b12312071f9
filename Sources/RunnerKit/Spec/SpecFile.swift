import Foundation

/// Reads the text of a spec file: at most `maximumBytes`, UTF-8, one leading byte order mark dropped.
public enum SpecFile {
    /// A spec is a few kilobytes; a file far larger is the wrong file (a data set, a log), and
    /// reading it whole would take seconds and memory before the parser said so.
    public static let maximumBytes = 4 << 20

    public static func text(of file: String) throws(SpecError) -> String {
        func refuse(_ message: String) -> SpecError {
            SpecError(file: file, issues: [SpecIssue(path: "", line: 0, column: 0, message: message)])
        }
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw refuse("cannot be read (does it exist, and may it be read?)") }
        defer { close(descriptor) }
        var info = stat()
        if fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int64(info.st_size) > Int64(maximumBytes) {
            throw refuse(tooLarge("is \(Int64(info.st_size)) bytes"))
        }
        // Read to the limit and one byte past it whatever stat said: a pipe or a file still growing
        // has no size to trust.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count <= maximumBytes {
            let got = chunk.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress, min(buffer.count, maximumBytes + 1 - bytes.count))
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw refuse("cannot be read (\(String(cString: strerror(errno))))") }
            if got == 0 { break }
            bytes += chunk[..<got]
        }
        guard bytes.count <= maximumBytes else { throw refuse(tooLarge("is larger than the limit (it grew while read, or is a pipe)")) }
        // One byte order mark is allowed (RFC 8259 §8.1). It is dropped here so that the text (and
        // the spec's hash) is what it was without one; the parser would skip one more.
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        if bytes.starts(with: mark) {
            bytes.removeFirst(3)
            if bytes.starts(with: mark) {
                throw SpecError(file: file, issues: [SpecIssue(path: "", line: 1, column: 1, message:
                    "JSON syntax error: a second byte order mark (U+FEFF); only one may open the file — remove the other")])
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw refuse("is not UTF-8 text") }
        return text
    }

    private static func tooLarge(_ size: String) -> String {
        "\(size); a spec file may be at most \(maximumBytes) bytes (\(maximumBytes >> 20) MiB) — is it the right file?"
    }
}
