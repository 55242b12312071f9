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
        try prepare(bytes, for: path).commit()
    }

    /// `write`'s first half: the bytes in a temporary file beside `path`, flushed to disk. Its
    /// `commit()` renames it into place, `discard()` deletes it: for a caller that decides only at
    /// the last moment, under a lock of its own, whether the file may replace what is there.
    public static func prepare(_ bytes: [UInt8], for path: String) throws(AtomicFileError) -> Pending {
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
        return Pending(path: path, temporary: temporary)
    }

    /// A file written and flushed under a temporary name, not yet in place.
    public struct Pending: Sendable {
        public let path: String
        let temporary: String

        /// Renames the file into place, then flushes the folder so the rename survives a power cut.
        public func commit() throws(AtomicFileError) {
            guard rename(temporary, path) == 0 else {
                let code = errno
                unlink(temporary)
                throw AtomicFileError(path: path, step: "rename into place", code: code)
            }
            let folderDescriptor = open(parentFolder(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if folderDescriptor >= 0 {
                _ = fsync(folderDescriptor)
                close(folderDescriptor)
            }
        }

        /// Deletes the temporary file (nothing once it is committed).
        public func discard() {
            unlink(temporary)
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
