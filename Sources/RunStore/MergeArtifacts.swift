import Crypto
import Foundation

/// Checkpoint files copied by a merge. A file is only ever written under a name OUT does not
/// reference (a replaced run's new file gets another name when its old one is still recorded),
/// so until the merge commits OUT's recorded files stay exactly as they were; the files written
/// are removed again if the merge fails, and the replaced ones once it has committed.
struct MergeArtifacts {
    let outputPath: String
    /// Files this merge wrote: removed if it fails.
    private(set) var written: [String] = []
    /// Per run UUID, the names OUT's rows referenced when this merge replaced the run: never
    /// overwritten, since until the commit they are what OUT records.
    private var protected: [String: Set<String>] = [:]

    init(outputPath: String) {
        self.outputPath = outputPath
    }

    mutating func protect(uuid: String, names: Set<String>) {
        protected[uuid, default: []].formUnion(names)
    }

    /// Copies a checkpoint of run `uuid` from the input's artifacts folder into OUT's, checking it
    /// against the SHA-256 and size the input recorded. Returns the name it has in OUT.
    mutating func copy(from inputPath: String, uuid: String, path relative: String, sha256: String, bytes: Int64) throws(StoreError) -> String {
        let taken = protected[uuid] ?? []
        let source = try RunStore.checkpointFile(storePath: inputPath, runUUID: uuid, path: relative)
        var name = relative
        let folder = RunStore.artifactsFolder(storePath: outputPath, runUUID: uuid)
        if taken.contains(relative) {
            let existing = try? RunStore.checkpointFile(storePath: outputPath, runUUID: uuid, path: relative)
            if let existing, (try? DataFileHash.sha256(file: existing)) == sha256 { return relative }
            let stem = (relative as NSString).deletingPathExtension, ext = (relative as NSString).pathExtension
            name = "\(stem).merged-\(sha256.prefix(12))" + (ext.isEmpty ? "" : ".\(ext)")
            if taken.contains(name) { return name }
        }
        let target = folder + "/" + name
        try write(from: source, inputPath: inputPath, to: target, sha256: sha256, bytes: bytes)
        written.append(target)
        return name
    }

    /// Streams `source` to a temporary file beside `target`, hashing as it goes, and renames it
    /// into place only when the hash and size are the ones recorded.
    private func write(from source: String, inputPath: String, to target: String, sha256 expected: String, bytes expectedBytes: Int64) throws(StoreError) {
        let folder = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.io, path: folder, "could not be created for the merged checkpoints: \(error.localizedDescription); nothing was merged")
        }
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw StoreError(.cannotResume, path: source,
                             "is recorded in \(inputPath) as a checkpoint but cannot be read (missing?); put it back, or delete its run from that store with `runner runs rm` — nothing was merged")
        }
        defer { try? input.close() }
        let temporary = folder + "/.merge-\(UUID().uuidString.lowercased()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let output = FileHandle(forWritingAtPath: temporary) else {
            throw StoreError(.io, path: temporary, "could not be created for a merged checkpoint (is the folder writable?); nothing was merged")
        }
        var hasher = SHA256()
        var count: Int64 = 0
        do {
            defer { try? output.close() }
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                try output.write(contentsOf: chunk)
                count += Int64(chunk.count)
            }
            try output.synchronize()
        } catch {
            unlink(temporary)
            throw StoreError(.io, path: target, "could not be copied from \(source): \(error.localizedDescription); nothing was merged")
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard digest == expected.lowercased(), count == expectedBytes else {
            unlink(temporary)
            throw StoreError(.cannotResume, path: source,
                             "does not match the checkpoint \(inputPath) recorded (SHA-256 or size differs: changed or damaged); put the right file back, or delete its run from that store with `runner runs rm` — nothing was merged")
        }
        guard rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(.io, path: target, "could not be put in place: \(reason); nothing was merged")
        }
        let fd = open(folder, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Removes what this merge wrote (it failed: OUT's rows do not reference these files).
    func removeWritten() {
        for file in written { unlink(file) }
    }
}
