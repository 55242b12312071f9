import Foundation

/// Writing a report or schema to a file the user named, without ever destroying a store: a file
/// that is a SQLite database, and the store being read (through any symlink or hard link, or its
/// -wal/-shm companions), are refused. The text goes to a temporary file beside the target,
/// renamed over it once complete, so a failed write leaves the old file as it was and no half file.
public enum OutputFile {
    /// The first 16 bytes of every SQLite database file.
    static let sqliteHeader = Data("SQLite format 3\0".utf8)

    /// Refuses `path` if writing it would destroy a store; returns the path with symlinks resolved.
    @discardableResult
    public static func check(_ path: String, protecting stores: [String] = []) throws(ReportError) -> String {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        for store in stores {
            let resolved = URL(fileURLWithPath: store).resolvingSymlinksInPath().path
            if target == resolved || sameFile(target, resolved) || ["-wal", "-shm", "-journal"].contains(where: { target == resolved + $0 }) {
                throw ReportError("refusing to write \(path): it is the store being read (\(store)); choose another file")
            }
        }
        // Only a regular file may be replaced: renaming over a device (/dev/null) would replace the
        // device itself, and reading a FIFO's header to look for SQLite would block for ever.
        var status = stat()
        if stat(target, &status) == 0 {
            switch status.st_mode & S_IFMT {
            case S_IFREG:
                break
            case S_IFDIR:
                throw ReportError("cannot write \(path): it is a folder; name a file")
            default:
                throw ReportError("cannot write \(path): it is not a regular file (a device, pipe or socket); name a file")
            }
        }
        if isSQLiteFile(target) {
            throw ReportError("refusing to write \(path): it is a SQLite database (a ConvLab store?), which this would destroy; choose another file")
        }
        return target
    }

    public static func write(_ text: String, to path: String, protecting stores: [String] = []) throws(ReportError) {
        let target = try check(path, protecting: stores)
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        var template = Array(((folder.isEmpty ? "." : folder) + "/." + name + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else { throw ReportError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let temporary = template.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { String(cString: $0) } ?? "" }
        var failure: String?
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                break
            }
            written += n
        }
        // mkstemp creates the file 0600; a report is an ordinary file (0666 less the umask).
        let mask = umask(0)
        umask(mask)
        fchmod(fd, 0o666 & ~mask)
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, target) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw ReportError("cannot write \(path): \(failure)")
        }
    }

    /// Whether `path` is an existing regular file starting with SQLite's 16-byte header.
    public static func isSQLiteFile(_ path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 16)) == sqliteHeader
    }

    /// Whether two existing paths name one file (same device and inode: hard links too).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
