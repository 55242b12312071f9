import Crypto
import Foundation

/// SHA-256 of files, read in chunks so that a data set of any size hashes in constant memory.
public enum DataFileHash {
    /// The lower-case hex SHA-256 of the file's bytes.
    public static func sha256(file path: String) throws(StoreError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError(.io, path: path, "cannot be read to compute its SHA-256 (does it exist, and may it be read?)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
            }
        } catch {
            throw StoreError(.io, path: path, "could not be read to the end to compute its SHA-256: \(error.localizedDescription)")
        }
        return hex(hasher.finalize())
    }

    /// The lower-case hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}
