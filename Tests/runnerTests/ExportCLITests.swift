import Checkpoints
import ConvCore
import Foundation
import Testing
@testable import RunStore
import TestSupport

/// A finished two-run sweep (trained once by `runner exec`) whose run 1 has checkpoints of epochs
/// 1 and 2, written here (the spec turns `runner exec`'s own off) with seeded random weights in
/// the tiny spec's layer shapes; each test works on a copy of the store and its artifacts folder.
let exportStore: String = {
    let folder = temporaryFolder()
    let store = folder + "/sweep.sqlite"
    // Without checkpoints of its own: run 1's are the ones written below, run 2 has none.
    _ = try? runner("exec", writeSpec(folder, extra: #", "matrix": { "model.pooling": ["max", "avg"] }, "checkpoint": { "every_epochs": 0 }"#),
                    "--store", store, "--quiet")
    guard let uuid = try? scalar(store, "SELECT uuid FROM runs WHERE id = 1").string, let opened = try? RunStore(path: store) else { return store }
    defer { try? opened.checkpointAndClose() }
    let artifacts = RunStore.artifactsFolder(storePath: store, runUUID: uuid)
    try? FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
    for epoch in 1 ... 2 {
        let checkpoint = CheckpointFile(training: exportTrainingState(epoch: epoch), metadata: [("run_uuid", uuid)])
        let name = "epoch-000\(epoch).safetensors"
        guard let (bytes, sha256) = try? checkpoint.write(to: artifacts + "/" + name) else { continue }
        try? opened.addCheckpoint(CheckpointRecord(runID: 1, epoch: epoch, step: 8 * epoch, path: name, bytes: Int64(bytes),
                                                   sha256: sha256, createdAt: 0))
    }
    return store
}()

/// The tiny spec's parameters (conv 3×1×3×3 at layer 0, dense 3×48 at layer 4), seeded by the
/// epoch, with an optimizer buffer, counter and generator that an export must leave out.
func exportTrainingState(epoch: Int) -> TrainingState<Float> {
    var generator = Xoshiro256(seed: UInt64(epoch))
    func values(_ count: Int) -> [Float] { (0 ..< count).map { _ in Float(generator.nextUnit() * 2 - 1) } }
    let shapes: [(String, [Int])] = [("layers.0.conv.weight", [3, 1, 3, 3]), ("layers.0.conv.bias", [3]),
                                     ("layers.4.dense.weight", [3, 48]), ("layers.4.dense.bias", [3])]
    var tensors = shapes.map { NamedTensor<Float>(name: $0.0, shape: $0.1, values: values($0.1.reduce(1, *))) }
    tensors.append(NamedTensor(name: "optimizer.velocity.layers.0.conv.bias", shape: [3], values: values(3)))
    return TrainingState(epoch: epoch, step: 8 * epoch, optimizerKind: "sgd", tensors: tensors,
                         counters: [NamedCounter(name: "optimizer.steps", value: UInt64(8 * epoch))],
                         generators: [NamedGenerator(name: "replicas.0.layers.0.dropout", words: [1, 2, 3, 4])])
}

/// A copy of `exportStore` and its artifacts folder, in a folder of its own.
func copyOfExportStore() throws -> String {
    let folder = temporaryFolder()
    let path = folder + "/store.sqlite"
    for suffix in ["", "-wal", ".artifacts"] where FileManager.default.fileExists(atPath: exportStore + suffix) {
        try FileManager.default.copyItem(atPath: exportStore + suffix, toPath: path + suffix)
    }
    return path
}

func artifacts(_ store: String, run: Int = 1) throws -> String {
    RunStore.artifactsFolder(storePath: store, runUUID: try uuid(store, run: run))
}

/// `runner` started in `folder` (so a default output name lands there).
func runner(in folder: String, _ arguments: String...) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: runnerPath)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "CONVLAB_STORE")
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return finish((process, out, err))
}

func readExport(_ path: String) throws -> SafeTensors {
    let bytes = try #require(FileManager.default.contents(atPath: path))
    return try SafeTensors.decode(Array(bytes), file: path)
}

@Suite("runner export: a run's weights from a checkpoint, as safetensors", .serialized)
struct ExportCLITests {
    @Test("export writes the latest checkpoint's parameters bit for bit (and nothing else), with the spec, UUID, epoch, step and test accuracy in the metadata; the store is unchanged")
    func exportsLatest() throws {
        let store = try copyOfExportStore()
        let before = try storeBytes(store)
        let folder = temporaryFolder()
        let result = try runner(in: folder, "export", "1", "--store", store)
        #expect(result.status == 0, "\(result.stderr)")
        let file = folder + "/run-1-epoch-2.safetensors"
        let export = try readExport(file)
        let expected = exportTrainingState(epoch: 2).parameters
        #expect(export.tensors.map(\.name) == expected.map(\.name))
        for tensor in expected {
            #expect(export[tensor.name]?.shape == tensor.shape)
            #expect(export[tensor.name]?.floats?.map(\.bitPattern) == tensor.values.map(\.bitPattern), "\(tensor.name)")
        }
        let metadata = Dictionary(uniqueKeysWithValues: export.metadata.map { ($0.key, $0.value) })
        #expect(metadata["spec"] == (try scalar(store, "SELECT spec_json FROM runs WHERE id = 1").string))
        #expect(metadata["run_uuid"] == (try uuid(store, run: 1)))
        #expect(metadata["epoch"] == "2" && metadata["step"] == "16" && metadata["convlab_version"] != nil)
        let accuracy = try #require(try scalar(store, "SELECT value FROM metrics WHERE run_id = 1 AND name = 'test_accuracy' AND epoch = 2").double)
        #expect(metadata["test_accuracy"].flatMap(Double.init) == accuracy)

        let bytes = try #require(FileManager.default.contents(atPath: file))
        let sha = CheckpointFile.sha256(Array(bytes))
        #expect(result.stdout.contains("wrote run-1-epoch-2.safetensors") && result.stdout.contains("4 tensors")
                && result.stdout.contains("\(bytes.count) bytes") && result.stdout.contains(String(sha.prefix(12))))
        #expect(result.stdout.contains("safetensors.torch") && result.stdout.contains("load_file"))
        #expect(try storeBytes(store) == before)
    }

    @Test("--epoch picks that epoch's checkpoint; the run may be named by a UUID prefix; -o replaces an existing regular file")
    func exportsEpochByUUID() throws {
        let store = try copyOfExportStore()
        let output = temporaryFolder() + "/first.safetensors"
        FileManager.default.createFile(atPath: output, contents: Data("old".utf8))
        let result = try runner("export", String(try uuid(store, run: 1).prefix(6)), "--epoch", "1", "-o", output, "--store", store)
        #expect(result.status == 0, "\(result.stderr)")
        let export = try readExport(output)
        #expect(export["layers.0.conv.weight"]?.floats == exportTrainingState(epoch: 1).parameters[0].values)
        #expect(export.metadata.first { $0.key == "epoch" }?.value == "1")
        #expect(export["layers.0.conv.weight"]?.floats != exportTrainingState(epoch: 2).parameters[0].values)
    }

    /// Each bad input: exit 2, one line on stderr (containing `message`), nothing on stdout, the
    /// store byte for byte as it was, and no output file.
    func expectRefused(_ arguments: [String], store: String, output: String? = nil, _ message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try storeBytes(store)
        let result = try finish(launch(["export"] + arguments + ["--store", store]))
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines(result.stderr).count == 1 && result.stdout.isEmpty, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(try storeBytes(store) == before, sourceLocation: sourceLocation)
        if let output { #expect(!FileManager.default.fileExists(atPath: output), sourceLocation: sourceLocation) }
    }

    @Test("an unknown run, an ambiguous UUID prefix, a run without checkpoints, an epoch without one: exit 2, one line, store unchanged")
    func badRuns() throws {
        let store = try copyOfExportStore()
        let output = temporaryFolder() + "/out.safetensors"
        try expectRefused(["9", "-o", output], store: store, output: output, "no run with id 9")
        try expectRefused(["zz", "-o", output], store: store, output: output, "is not a run")
        // Give both runs UUIDs with a common prefix (on a copy: the fixture's are random).
        let ambiguous = try copyOfExportStore()
        let opened = try RunStore(path: ambiguous)
        try opened.write { db in
            try db.execute(sql: "UPDATE runs SET uuid = 'abcd' || substr(uuid, 5) WHERE id IN (1, 2)")
        }
        try opened.checkpointAndClose()
        try expectRefused(["abcd", "-o", output], store: ambiguous, output: output, "is ambiguous")
        try expectRefused(["2", "-o", output], store: store, output: output,
                          "run 2 has no checkpoints (its spec has checkpoint.every_epochs 0)")
        try expectRefused(["1", "--epoch", "3", "-o", output], store: store, output: output,
                          "run 1 has no checkpoint of epoch 3; it has checkpoints of epochs 1, 2")
        try expectRefused(["1", "--epoch=-1", "-o", output], store: store, output: output, "--epoch -1: must be an epoch number ≥ 0")
        try expectRefused(["1", "-o", ""], store: store, "-o needs a file name")
    }

    @Test("a deleted checkpoint, a moved artifacts folder, a flipped byte (SHA-256), a checkpoint of another run: exit 2, one line naming the file")
    func badFiles() throws {
        let output = temporaryFolder() + "/out.safetensors"

        let deleted = try copyOfExportStore()
        let deletedFile = try artifacts(deleted) + "/epoch-0002.safetensors"
        try FileManager.default.removeItem(atPath: deletedFile)
        try expectRefused(["1", "-o", output], store: deleted, output: output, "\(deletedFile): does not exist")

        let moved = try copyOfExportStore()
        try FileManager.default.moveItem(atPath: moved + ".artifacts", toPath: moved + ".artifacts-elsewhere")
        try expectRefused(["1", "-o", output], store: moved, output: output, "\(try artifacts(moved)): run 1's artifacts folder is missing")

        let tampered = try copyOfExportStore()
        let tamperedFile = try artifacts(tampered) + "/epoch-0002.safetensors"
        var bytes = try #require(FileManager.default.contents(atPath: tamperedFile))
        bytes[bytes.count - 5] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: tamperedFile))
        try expectRefused(["1", "-o", output], store: tampered, output: output, "\(tamperedFile): SHA-256 is")

        // Run 2's record pointing at run 1's checkpoint (copied into run 2's folder, hash and all).
        let swapped = try copyOfExportStore()
        let secondFolder = try artifacts(swapped, run: 2)
        try FileManager.default.createDirectory(atPath: secondFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try artifacts(swapped) + "/epoch-0001.safetensors", toPath: secondFolder + "/epoch-0001.safetensors")
        let opened = try RunStore(path: swapped)
        let record = try #require(try opened.checkpoints(run: 1).first)
        try opened.addCheckpoint(CheckpointRecord(runID: 2, epoch: 1, step: record.step, path: record.path, bytes: record.bytes,
                                                  sha256: record.sha256, createdAt: 0))
        try opened.checkpointAndClose()
        try expectRefused(["2", "-o", output], store: swapped, output: output, "is a checkpoint of run \(try uuid(swapped, run: 1)), not of run 2")
    }

    @Test("-o at the store, its -wal, a link to it, another SQLite file, a checkpoint, a folder, /dev/null, a missing folder: refused, exit 2, nothing changed")
    func badOutputs() throws {
        let store = try copyOfExportStore()
        let other = try copyOfExportStore()
        let otherBytes = try storeBytes(other)
        try expectRefused(["1", "-o", store], store: store, "it is the store being read")
        try expectRefused(["1", "-o", store + "-wal"], store: store, "it is the store being read")
        let link = temporaryFolder() + "/link.sqlite"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: store)
        try expectRefused(["1", "-o", link], store: store, "it is the store being read")
        try expectRefused(["1", "-o", other], store: store, "it is a SQLite database")
        #expect(try storeBytes(other) == otherBytes)
        let checkpoint = try artifacts(store) + "/epoch-0002.safetensors"
        let checkpointBytes = FileManager.default.contents(atPath: checkpoint)
        try expectRefused(["1", "-o", checkpoint], store: store, "it is inside the store's artifacts folder")
        try expectRefused(["1", "-o", try artifacts(store) + "/new.safetensors"], store: store, output: try artifacts(store) + "/new.safetensors",
                          "it is inside the store's artifacts folder")
        #expect(FileManager.default.contents(atPath: checkpoint) == checkpointBytes)
        let folder = temporaryFolder()
        try expectRefused(["1", "-o", folder], store: store, "it is a folder")
        try expectRefused(["1", "-o", "/dev/null"], store: store, "not a regular file")
        try expectRefused(["1", "-o", folder + "/missing/out.safetensors"], store: store, output: folder + "/missing/out.safetensors", "cannot write")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
