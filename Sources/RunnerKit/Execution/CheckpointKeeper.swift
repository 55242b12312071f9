import ConvLabKit
import Checkpoints
import Foundation
import RunStore

/// Writes a run's checkpoints into its artifacts folder and records them in the store, keeping
/// the last one or all of them as the spec's `checkpoint.keep` says.
struct CheckpointKeeper {
    enum Failure: Error {
        /// The file could not be written (the run ends as failed; the store is fine).
        case file(String)
        case store(StoreError)
        /// Another process claimed the run (this one was silent past the stale limit): nothing
        /// was put in place or recorded.
        case takenOver
    }

    let store: RunStore
    let claimant: String
    let runID: Int64
    let runUUID: String
    let settings: CheckpointSettings
    /// The newest checkpoint recorded for the run (the one resumed from, or the last written).
    var previous: CheckpointRecord?

    var folder: String { store.artifactsFolder(runUUID: runUUID) }

    /// Writes `file` as `epoch-NNNN.safetensors` (atomically), records it, then, with keep
    /// `last`, deletes the previous one: its row and file go only once the new row is committed,
    /// so a crash at any point leaves at least one recorded checkpoint whose file exists.
    mutating func write(_ file: CheckpointFile, epoch: Int, step: Int) throws(Failure) -> (bytes: Int, sha256: String) {
        let name = String(format: "epoch-%04d.safetensors", epoch)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .file("\(folder): could not be created: \(error.localizedDescription)")
        }
        let written: (file: AtomicFile.Pending, bytes: Int, sha256: String)
        do { written = try file.prepare(to: folder + "/" + name) } catch { throw .file(error.description) }
        defer { written.file.discard() }
        let record = CheckpointRecord(runID: runID, epoch: epoch, step: step, path: name, bytes: Int64(written.bytes),
                                      sha256: written.sha256, createdAt: Date().timeIntervalSince1970)
        // Renamed into place only while this process holds the run, under the store's write lock:
        // one that lost the run while stopped never replaces the new owner's file or record.
        var placing: AtomicFileError?
        let recorded: Bool
        do throws(StoreError) {
            recorded = try store.addCheckpoint(record, claimant: claimant) {
                do throws(AtomicFileError) { try written.file.commit() } catch { placing = error }
                return placing == nil
            }
        } catch { throw .store(error) }
        if let placing { throw .file(placing.description) }
        guard recorded else { throw .takenOver }
        if settings.keep == .last, let old = previous, old.epoch != epoch {
            do { try store.deleteCheckpoint(run: runID, epoch: old.epoch) } catch { throw .store(error) }
            try? FileManager.default.removeItem(atPath: folder + "/" + old.path)
        }
        previous = record
        return (written.bytes, written.sha256)
    }

    /// "247 KB", "3.1 MB": a checkpoint's size for a person.
    static func size(_ bytes: Int) -> String {
        if bytes < 10_000 { return "\(bytes) B" }
        if bytes < 10_000_000 { return "\(bytes / 1000) KB" }
        return String(format: "%.1f MB", Double(bytes) / 1e6)
    }
}
