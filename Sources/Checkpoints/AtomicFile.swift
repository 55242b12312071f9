#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that a reader (or the next run after a crash or power cut) sees either the
/// old file or the whole new one, never a part: the bytes go to a temporary file in the same
/// folder, which is flushed to disk, renamed over the target, and the folder itself is flushed so
/// the rename survives a power cut.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(AtomicFileError) {
        let folder = parentFolder(of: path)
        let temporary = "\(folder)/.\(baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFileError(path: path, step: "create \(temporary)", code: errno) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in systemWrite(descriptor, raw.baseAddress! + written, raw.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor); unlink(temporary)
                throw AtomicFileError(path: path, step: "write", code: code)
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let code = errno
            close(descriptor); unlink(temporary)
            throw AtomicFileError(path: path, step: "flush to disk", code: code)
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw AtomicFileError(path: path, step: "rename into place", code: code)
        }
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

public struct AtomicFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var step: String
    public var code: Int32
    public var description: String { "\(path): could not \(step): \(String(cString: strerror(code)))" }
}

/// POSIX write(2), named apart from `AtomicFile.write`.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(descriptor, buffer, count) }
