import ConvLabKit
import ArgumentParser
import Checkpoints
import Foundation
import Reports
import RunnerKit
import RunStore

/// `runner export RUN [--epoch N] [-o FILE]`: a run's weights from one of its checkpoints, as a
/// safetensors file any PyTorch, JAX or Hugging Face tool loads. The store is only read: it is
/// opened read-only, and every error (exit 2) leaves it and the output file as they were.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's trained weights (from a checkpoint) as safetensors.",
        discussion: """
        RUN is a run's id (3) or at least 4 hex digits of its UUID (3f2a9c). Without --epoch, the run's latest checkpoint is exported.

        The file holds the parameters only (F32), named as in the reports (layers.0.conv.weight, layers.0.conv.bias, …), and in its metadata the run's resolved spec (spec), run_uuid, epoch, step, the test accuracy of that epoch (test_accuracy, when it was evaluated) and convlab_version.

        Examples:
          runner export 3                         ./run-3-epoch-<latest>.safetensors
          runner export 3f2a --epoch 2 -o lenet.safetensors
          python3 scripts/reference/check_export.py convlab.sqlite 3   exports, evaluates in PyTorch, compares

        The checkpoint is checked against the SHA-256 the store recorded. The output is written atomically and never replaces a SQLite file (the store or another) or anything but a regular file.
        """)

    @OptionGroup var store: StoreOption

    @Argument(help: ArgumentHelp("The run: its id or at least 4 hex digits of its UUID.", valueName: "run"))
    var reference: String

    @Option(help: ArgumentHelp("Export this epoch's checkpoint (default: the latest).", valueName: "n"))
    var epoch: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp("The file to write (default: run-<id>-epoch-<n>.safetensors here).", valueName: "file"))
    var output: String?

    func run() throws {
        do {
            // Checked here, not in validate(): a usage error would print the whole usage text.
            if let epoch, epoch < 0 { throw ExportError("--epoch \(epoch): must be an epoch number ≥ 0 (the epochs done when the checkpoint was written)") }
            if let output, output.isEmpty { throw ExportError("-o needs a file name, e.g. -o run-3.safetensors") }
            let source = try ExportSource.find(reference, epoch: epoch, storePath: store.path)
            let target = output ?? "run-\(source.runID)-epoch-\(source.checkpoint.epoch).safetensors"
            let resolved = try OutputFile.check(target, protecting: [store.path])
            // Replacing a checkpoint with an export would lose the training state it holds.
            let artifactsRoot = URL(fileURLWithPath: store.path + ".artifacts").resolvingSymlinksInPath().path + "/"
            if URL(fileURLWithPath: resolved).deletingLastPathComponent().resolvingSymlinksInPath().path.appending("/").hasPrefix(artifactsRoot) {
                throw ExportError("refusing to write \(target): it is inside the store's artifacts folder (\(store.path).artifacts), where the checkpoints live; choose another file")
            }
            let checkpoint = try CheckpointFile.read(path: source.file, expectedSHA256: source.checkpoint.sha256)
            if let recorded = checkpoint[metadata: CheckpointMetadataKey.runUUID.rawValue], recorded != source.uuid {
                throw ExportError("\(source.file): is a checkpoint of run \(recorded), not of run \(source.runID) (\(source.uuid)): the artifacts folder was mixed up; nothing was written")
            }
            let bytes = checkpoint.weightsExport(metadata: source.metadata(step: checkpoint.training.step))
            do { try AtomicFile.write(bytes, to: resolved) } catch {
                throw ExportError("cannot write \(target): could not \(error.step): \(String(cString: strerror(error.code)))")
            }
            let tensors = checkpoint.training.parameters.count
            print("wrote \(target): run \(source.runID) epoch \(source.checkpoint.epoch) (step \(checkpoint.training.step)), \(tensors) tensors, \(bytes.count) bytes, SHA-256 \(CheckpointFile.sha256(bytes).prefix(12))…"
                  + (source.testAccuracy.map { ", test accuracy \(String(format: "%.4f", $0))" } ?? ""))
            print("load it in PyTorch: from safetensors.torch import load_file; weights = load_file(\"\(target)\")"
                  + "  (check its accuracy in PyTorch: python3 scripts/reference/check_export.py \(store.path) \(source.runID) --epoch \(source.checkpoint.epoch))")
        } catch let error as StoreError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        } catch let error as CheckpointError {
            Console.error("error: \(error); nothing was written")
            throw ExitCode(2)
        } catch let error as ReportError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        } catch let error as ExportError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
    }
}

struct ExportError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The run and checkpoint an export reads, found in the store opened read-only.
struct ExportSource {
    var runID: Int64
    var uuid: String
    var specJSON: String
    var checkpoint: CheckpointRecord
    /// The checkpoint file's path: the run's artifacts folder and the recorded relative path.
    var file: String
    var testAccuracy: Double?

    static func find(_ reference: String, epoch: Int?, storePath: String) throws -> ExportSource {
        let reader = try StoreReader(path: storePath)
        let id = try reader.resolveRun(reference)
        let hasCheckpoints = try reader.catalog().contains { $0.name == "checkpoints" }
        guard hasCheckpoints,
              let run = try reader.query("SELECT uuid, spec_json FROM runs WHERE id = ?", arguments: [.integer(id)]).rows.first,
              let uuid = run[0].string, let specJSON = run[1].string else {
            throw ExportError("run \(id) has no checkpoints: the store is from a ConvLab without checkpoints; run its spec again with this version")
        }
        let records = try reader.query("SELECT epoch, step, path, bytes, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY epoch",
                                       arguments: [.integer(id)]).rows.map { row in
            CheckpointRecord(runID: id, epoch: Int(row[0].double ?? -1), step: Int(row[1].double ?? -1), path: row[2].string ?? "",
                             bytes: Int64(row[3].double ?? -1), sha256: row[4].string ?? "", createdAt: row[5].double ?? 0)
        }
        guard let latest = records.last else {
            throw ExportError("run \(id) has no checkpoints (\(Self.whyNoCheckpoints(specJSON))); nothing was written")
        }
        var chosen = latest
        if let epoch {
            guard let match = records.first(where: { $0.epoch == epoch }) else {
                let epochs = records.map { String($0.epoch) }.joined(separator: ", ")
                throw ExportError("run \(id) has no checkpoint of epoch \(epoch); it has \(records.count == 1 ? "one of epoch" : "checkpoints of epochs") \(epochs) (give one of them to --epoch, or leave --epoch out for the latest)")
            }
            chosen = match
        }
        let folder = RunStore.artifactsFolder(storePath: storePath, runUUID: uuid)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw ExportError("\(folder): run \(id)'s artifacts folder is missing (moved or deleted?); it must sit beside the store as <store>.artifacts/<run uuid>; nothing was written")
        }
        let accuracy = try reader.query("SELECT value FROM metrics WHERE run_id = ? AND name = 'test_accuracy' AND epoch = ? ORDER BY step DESC LIMIT 1",
                                        arguments: [.integer(id), .real(Double(chosen.epoch))]).rows.first?.first?.double
        let file: String
        do { file = try RunStore.checkpointFile(storePath: storePath, runUUID: uuid, path: chosen.path) } catch { throw ExportError(error.description) }
        return ExportSource(runID: id, uuid: uuid, specJSON: specJSON, checkpoint: chosen, file: file, testAccuracy: accuracy)
    }

    /// The export's metadata: everything a reader needs to rebuild and check the network.
    func metadata(step: Int) -> [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = [
            ("spec", specJSON), ("run_uuid", uuid), ("epoch", String(checkpoint.epoch)), ("step", String(step)),
        ]
        if let testAccuracy { entries.append((MetricName.testAccuracy.rawValue, String(testAccuracy))) }
        entries.append(("convlab_version", Provenance.convlabVersion))
        return entries
    }

    /// Why a run has no checkpoint, from its spec's checkpoint section.
    static func whyNoCheckpoints(_ specJSON: String) -> String {
        let spec = (try? JSONSerialization.jsonObject(with: Data(specJSON.utf8))) as? [String: Any]
        let every = ((spec?["checkpoint"] as? [String: Any])?["every_epochs"] as? NSNumber)?.intValue
        switch every {
        case 0: return "its spec has checkpoint.every_epochs 0"
        case nil: return "its spec has no checkpoint section: it ran before ConvLab wrote checkpoints"
        case let every?: return "its spec has checkpoint.every_epochs \(every), and it never finished a checkpointed epoch"
        }
    }
}
