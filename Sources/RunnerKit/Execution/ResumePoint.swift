import ConvLabKit
import Checkpoints
import Foundation
import RunStore

/// Where a claimed run continues: its latest checkpoint, read and checked against the run and
/// its data before anything of the run changes in the store. A checkpoint that cannot be trusted
/// is refused (`StoreError.Kind.cannotResume`, naming the file) rather than silently replaced by
/// training from scratch: the person decides (put the file back, or `--fresh`).
struct ResumePoint {
    var record: CheckpointRecord
    var checkpoint: CheckpointFile

    static let fixHint = "the run was left as it was; put the file back, or run the spec with --fresh to train it again from scratch in a new experiment"

    static let dataHint = "the run was left as it was; restore the data it was trained on, or run the spec with --fresh to train it again from scratch in a new experiment"

    /// The run's latest checkpoint, checked; nil when it has none (it then starts at step 0).
    static func load(_ before: StoredRun, run: RunPlan, store: RunStore) throws(StoreError) -> ResumePoint? {
        guard let record = before.latestCheckpoint else { return nil }
        func refuse(_ path: String, _ problem: String) -> StoreError {
            StoreError(.cannotResume, path: path, "\(problem); run \(before.id) cannot resume from it: \(fixHint)")
        }
        let file: String
        do { file = try RunStore.checkpointFile(storePath: store.path, runUUID: before.uuid, path: record.path) } catch {
            throw StoreError(.cannotResume, path: error.path, "\(error.message); run \(before.id) cannot resume: \(fixHint)")
        }
        let checkpoint: CheckpointFile
        do { checkpoint = try CheckpointFile.read(path: file, expectedSHA256: record.sha256) } catch {
            throw refuse(error.file, error.problem)
        }
        let uuid = checkpoint[metadata: CheckpointMetadataKey.runUUID.rawValue] ?? "none"
        guard uuid == before.uuid else {
            throw refuse(file, "is a checkpoint of run \(uuid), not of run \(before.uuid)")
        }
        let specHash = checkpoint[metadata: CheckpointMetadataKey.specHash.rawValue] ?? "none"
        guard specHash == run.specHash else {
            throw refuse(file, "was written for spec hash \(specHash), but the run's resolved spec hashes to \(run.specHash)")
        }
        guard checkpoint.training.epoch == record.epoch, checkpoint.training.step == record.step else {
            throw refuse(file, "holds epoch \(checkpoint.training.epoch) step \(checkpoint.training.step), the store recorded epoch \(record.epoch) step \(record.step)")
        }
        try checkData(before, run: run, store: store)
        return ResumePoint(record: record, checkpoint: checkpoint)
    }

    /// The data files must be those the run was trained on (the SHA-256 the store recorded when
    /// it started): weights trained on other data cannot continue as the same run.
    static func checkData(_ before: StoredRun, run: RunPlan, store: RunStore) throws(StoreError) {
        for (path, recorded) in try store.dataFiles(run: before.id) {
            let current: String
            do { current = try store.dataFileHash(path: path) } catch where error.kind == .io {
                throw StoreError(.cannotResume, path: path,
                                 "the run was trained on this data file (SHA-256 \(recorded)), which is gone; run \(before.id) cannot resume: \(dataHint)")
            }
            guard current == recorded else {
                throw StoreError(.cannotResume, path: path,
                                 "has SHA-256 \(current), but run \(before.id) was trained on SHA-256 \(recorded): the data changed; \(dataHint)")
            }
        }
    }
}
