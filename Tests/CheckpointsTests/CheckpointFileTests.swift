import ConvCore
import Datasets
import Foundation
import Testing
@testable import Checkpoints
import TestSupport

/// A small trainer with every kind of state: conv and dense weights, Adam or momentum buffers,
/// dropout generators in two replicas.
func makeTrainer(_ optimizer: OptimizerConfiguration, seed: UInt64, hidden: Int = 10) throws -> Trainer<Float> {
    let network = try Network<Float>(input: Shape(channels: 1, height: 6, width: 6), layers: [
        Conv2DConfiguration(filters: 2, kernel: (3, 3)), ActivationConfiguration(.relu), FlattenConfiguration(),
        DenseConfiguration(units: hidden), DropoutConfiguration(rate: 0.25), DenseConfiguration(units: 4),
    ], seed: seed)
    return Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: optimizer.make(Float.self), replicas: 2, usesThreads: false)
}

/// Trains `batches` batches of the sampler's walk; returns each step's loss bits.
func train(_ trainer: Trainer<Float>, _ sampler: inout BatchSampler, batches: Int) -> [UInt64] {
    (0..<batches).map { _ in
        let count = sampler.nextBatch().count
        return sampler.images.withUnsafeBufferPointer { images in
            sampler.labels.withUnsafeBufferPointer { trainer.step(images: images, labels: $0, batch: count, learningRate: 0.05).sum.bitPattern }
        }
    }
}

@Suite("Checkpoint files")
struct CheckpointFileTests {
    static let data = SyntheticDataset.make(seed: 4, trainCount: 23, testCount: 1, size: 6).train

    /// A checkpoint after `batches` steps of a trainer seeded `seed`, as the runner would write it.
    static func checkpoint(_ optimizer: OptimizerConfiguration = .adam(weightDecay: 1e-3), seed: UInt64 = 1, batches: Int = 5,
                           hidden: Int = 10) throws -> CheckpointFile {
        let trainer = try makeTrainer(optimizer, seed: seed, hidden: hidden)
        var sampler = BatchSampler(data: data, batchSize: 4, shuffle: true, seed: seed)
        _ = train(trainer, &sampler, batches: batches)
        var gradientCheck = Xoshiro256(seed: seed, stream: 0xC4EC)
        _ = gradientCheck.next()
        return CheckpointFile(training: trainer.captureState(epoch: sampler.epoch - 1, step: batches), sampler: sampler.state,
                              runnerGenerators: [NamedGenerator(name: "grad_check", words: gradientCheck.stateWords)],
                              runnerCounters: [NamedCounter(name: "loss_window_images", value: 12)],
                              runnerReals: [NamedReal(name: "loss_window_sum", value: 17.25 + 0x1p-40)],
                              metadata: [("run_uuid", "7d0c4a2e-0000-4000-8000-000000000001"), ("spec_hash", "abc123"),
                                         ("spec", "{\n  \"name\": \"lénet \\u{1B}\"\n}")])
    }

    /// The property the runner relies on: write at step k, read into a brand-new trainer and
    /// sampler (other initial weights), train on; every loss and the final file are the same as
    /// an uninterrupted run's.
    @Test("write at step k, read into a new trainer and sampler, train on: bit-identical to never stopping",
          arguments: [OptimizerConfiguration.sgd(momentum: 0.9, nesterov: true, weightDecay: 1e-3), .adam(weightDecay: 1e-3)])
    func resumeThroughAFile(optimizer: OptimizerConfiguration) throws {
        let folder = temporaryFolder()
        for (seed, k, m) in [(UInt64(1), 3, 9), (2, 6, 4), (3, 7, 1), (4, 1, 12)] {
            let straight = try makeTrainer(optimizer, seed: seed)
            var straightSampler = BatchSampler(data: Self.data, batchSize: 4, shuffle: true, seed: seed)
            let straightLosses = train(straight, &straightSampler, batches: k + m)

            let first = try makeTrainer(optimizer, seed: seed)
            var firstSampler = BatchSampler(data: Self.data, batchSize: 4, shuffle: true, seed: seed)
            let firstLosses = train(first, &firstSampler, batches: k)
            let path = "\(folder)/k\(k).safetensors"
            let written = try CheckpointFile(training: first.captureState(epoch: 0, step: k), sampler: firstSampler.state).write(to: path)

            let resumed = try makeTrainer(optimizer, seed: seed + 100)
            var resumedSampler = BatchSampler(data: Self.data, batchSize: 4, shuffle: true, seed: seed)
            try CheckpointFile.read(path: path, expectedSHA256: written.sha256).restore(into: resumed, sampler: &resumedSampler)
            let resumedLosses = train(resumed, &resumedSampler, batches: m)

            #expect(firstLosses + resumedLosses == straightLosses, "\(optimizer) seed \(seed) k \(k)")
            let a = CheckpointFile(training: straight.captureState(epoch: 0, step: k + m), sampler: straightSampler.state).encoded()
            let b = CheckpointFile(training: resumed.captureState(epoch: 0, step: k + m), sampler: resumedSampler.state).encoded()
            #expect(CheckpointFile.sha256(a) == CheckpointFile.sha256(b), "\(optimizer) seed \(seed) k \(k)")
        }
    }

    @Test("a written checkpoint reads back equal, with its size and SHA-256, and the layout documented")
    func roundTrip() throws {
        let folder = temporaryFolder()
        let checkpoint = try Self.checkpoint()
        let path = folder + "/epoch-0001.safetensors"
        let (bytes, sha) = try checkpoint.write(to: path)
        let onDisk = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes == onDisk.count && sha == CheckpointFile.sha256(onDisk) && sha.count == 64)
        let back = try CheckpointFile.read(path: path, expectedSHA256: sha.uppercased())
        #expect(back == checkpoint)
        #expect(back.path == path && back[metadata: "spec_hash"] == "abc123")
        #expect(back.runnerGenerator("grad_check")?.stateWords == checkpoint.runnerGenerators[0].words)
        #expect(back.runnerCounter("loss_window_images") == 12 && back.runnerReal("loss_window_sum") == 17.25 + 0x1p-40)

        let raw = try SafeTensors.decode(onDisk, file: path)
        #expect(raw["layers.0.conv.weight"]?.dtype == .f32 && raw["layers.0.conv.weight"]?.shape == [2, 1, 3, 3])
        #expect(raw["optimizer.first_moment.layers.3.dense.weight"]?.dtype == .f32)
        #expect(raw["optimizer.steps"]?.unsigned == [5])
        #expect(raw["rng.replicas.1.layers.4.dropout"]?.dtype == .u64 && raw["rng.replicas.1.layers.4.dropout"]?.shape == [4])
        #expect(raw["rng.runner.grad_check"]?.shape == [4] && raw["sampler.state"]?.shape == [7])
        #expect(raw["runner.loss_window_images"]?.unsigned == [12] && raw["runner.loss_window_sum"]?.doubles == [17.25 + 0x1p-40])
        #expect(raw.metadata.map(\.key) == ["format", "format_version", "epoch", "step", "optimizer", "run_uuid", "spec_hash", "spec"])
        #expect(raw.metadata.first { $0.key == "step" }?.value == "5")
    }

    @Test("the weights export holds the parameters alone, bit for bit, with the caller's metadata")
    func weightsExport() throws {
        let checkpoint = try Self.checkpoint()
        let export = try SafeTensors.decode(checkpoint.weightsExport(metadata: [("spec", "{}")]), file: "export.safetensors")
        #expect(export.tensors.map(\.name) == ["layers.0.conv.weight", "layers.0.conv.bias", "layers.3.dense.weight", "layers.3.dense.bias",
                                               "layers.5.dense.weight", "layers.5.dense.bias"])
        for tensor in export.tensors {
            #expect(tensor.floats?.map(\.bitPattern) == checkpoint.training[tensor: tensor.name]?.values.map(\.bitPattern))
        }
        #expect(export.metadata.map(\.key) == ["spec"])
    }

    @Test("SHA-256 is the standard one")
    func sha256Vectors() {
        #expect(CheckpointFile.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(CheckpointFile.sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    static func refusal(_ body: () throws(CheckpointError) -> Void) -> String {
        do { try body() } catch { return error.description }
        return "(no error)"
    }

    @Test("a missing, truncated or changed file, or one that is no ConvLab checkpoint, is refused in one line naming it")
    func refusals() throws {
        let folder = temporaryFolder()
        let path = folder + "/epoch-0002.safetensors"
        let (_, sha) = try Self.checkpoint().write(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func variant(_ name: String, _ content: [UInt8]) throws -> String {
            let file = "\(folder)/\(name)"
            try Data(content).write(to: URL(fileURLWithPath: file))
            return file
        }
        func expectRefusal(_ file: String, _ expected: String?, _ fragment: String) {
            let message = Self.refusal { () throws(CheckpointError) in _ = try CheckpointFile.read(path: file, expectedSHA256: expected) }
            #expect(message.hasPrefix("\(file): ") && message.contains(fragment) && !message.contains("\n"), "\(message)")
        }
        expectRefusal(folder + "/epoch-0009.safetensors", sha, "does not exist: the checkpoint is missing")

        // Truncated anywhere: with the recorded hash it is a mismatch; without, the format notices.
        var rng = Xoshiro256(seed: 8)
        for _ in 0..<12 {
            let cut = rng.nextInt(below: bytes.count)
            let truncated = try variant("cut-\(cut).safetensors", Array(bytes[..<cut]))
            expectRefusal(truncated, sha, "the store recorded \(sha): the checkpoint was changed or damaged")
            let message = Self.refusal { () throws(CheckpointError) in _ = try CheckpointFile.read(path: truncated, expectedSHA256: nil) }
            #expect(message.hasPrefix("\(truncated): ") && message != "(no error)", "cut at \(cut): \(message)")
        }
        // One flipped bit in the data: only the hash can tell.
        var flipped = bytes
        flipped[bytes.count - 3] ^= 0x01
        let tampered = try variant("tampered.safetensors", flipped)
        expectRefusal(tampered, sha, "SHA-256 is \(CheckpointFile.sha256(flipped)), the store recorded \(sha): the checkpoint was changed or damaged")

        let plain = try variant("plain.safetensors", SafeTensors(tensors: [.init(name: "layers.0.conv.weight", shape: [1], floats: [1])]).encoded())
        expectRefusal(plain, nil, "is not a ConvLab checkpoint")
        let notSafetensors = try variant("notes.txt", Array("hello, this is text and not a checkpoint".utf8))
        expectRefusal(notSafetensors, nil, "safetensors file, or corrupt")
        let newer = try variant("v2.safetensors", SafeTensors(tensors: [], metadata: [("format", "convlab-checkpoint"), ("format_version", "2")]).encoded())
        expectRefusal(newer, nil, "format version 2; this ConvLab reads version 1")
        let wrongType = try variant("wrongtype.safetensors", SafeTensors(
            tensors: [.init(name: "layers.0.conv.weight", shape: [1], unsigned: [1])],
            metadata: [("format", "convlab-checkpoint"), ("format_version", "1"), ("epoch", "1"), ("step", "2"), ("optimizer", "sgd")]).encoded())
        expectRefusal(wrongType, nil, "tensor \"layers.0.conv.weight\" is U64 [1], a checkpoint's is F32")
        let stranger = try variant("stranger.safetensors", SafeTensors(
            tensors: [.init(name: "model.fc.weight", shape: [1], floats: [1])],
            metadata: [("format", "convlab-checkpoint"), ("format_version", "1"), ("epoch", "1"), ("step", "2"), ("optimizer", "sgd")]).encoded())
        expectRefusal(stranger, nil, "holds tensor \"model.fc.weight\", which no ConvLab checkpoint has")
        let badRunner = try variant("badrunner.safetensors", SafeTensors(
            tensors: [.init(name: "runner.loss_window_sum", shape: [2], doubles: [1, 2])],
            metadata: [("format", "convlab-checkpoint"), ("format_version", "1"), ("epoch", "1"), ("step", "2"), ("optimizer", "sgd")]).encoded())
        expectRefusal(badRunner, nil, "tensor \"runner.loss_window_sum\" is F64 [2], a checkpoint's is U64 [1] or F64 [1]")
        let zeroGenerator = try variant("zero.safetensors", SafeTensors(
            tensors: [.init(name: "rng.runner.grad_check", shape: [4], unsigned: [0, 0, 0, 0])],
            metadata: [("format", "convlab-checkpoint"), ("format_version", "1"), ("epoch", "1"), ("step", "2"), ("optimizer", "sgd")]).encoded())
        expectRefusal(zeroGenerator, nil, "tensor \"rng.runner.grad_check\" is U64 [4], a checkpoint's is U64 [4], not all zero")
        expectRefusal(folder, sha, "is not a regular file")
        let noStep = try variant("nostep.safetensors", SafeTensors(
            tensors: [], metadata: [("format", "convlab-checkpoint"), ("format_version", "1"), ("epoch", "1"), ("optimizer", "sgd")]).encoded())
        expectRefusal(noStep, nil, "has no valid epoch, step and optimizer")
    }

    @Test("a checkpoint of another network, optimizer or data is refused naming the file and the tensor, and nothing changes")
    func otherNetwork() throws {
        let folder = temporaryFolder()
        let path = folder + "/epoch-0001.safetensors"
        let (_, sha) = try Self.checkpoint(hidden: 10).write(to: path)
        let checkpoint = try CheckpointFile.read(path: path, expectedSHA256: sha)

        let wider = try makeTrainer(.adam(weightDecay: 1e-3), seed: 5, hidden: 11)
        var sampler = BatchSampler(data: Self.data, batchSize: 4, shuffle: true, seed: 1)
        let before = wider.captureState(epoch: 0, step: 0), samplerBefore = sampler.state
        let message = Self.refusal { () throws(CheckpointError) in try checkpoint.restore(into: wider, sampler: &sampler) }
        #expect(message == "\(path): the saved layers.3.dense.weight is [10, 32] but this network's is [11, 32]: the saved state is of another network")
        let unchanged = wider.captureState(epoch: 0, step: 0) == before && sampler.state == samplerBefore
        #expect(unchanged)

        let sgd = try makeTrainer(.sgd(momentum: 0.9), seed: 5)
        let sgdMessage = Self.refusal { () throws(CheckpointError) in try checkpoint.restore(into: sgd, sampler: &sampler) }
        #expect(sgdMessage == "\(path): the saved state is of optimizer adam but this run uses sgd")

        // Other data: the sampler refuses before the trainer is touched.
        let same = try makeTrainer(.adam(weightDecay: 1e-3), seed: 5)
        let sameBefore = same.captureState(epoch: 0, step: 0)
        var otherData = BatchSampler(data: Self.data.subset(0..<20), batchSize: 4, shuffle: true, seed: 1)
        let dataMessage = Self.refusal { () throws(CheckpointError) in try checkpoint.restore(into: same, sampler: &otherData) }
        #expect(dataMessage.hasPrefix("\(path): the saved batch order is of a training set of 23 images, this run's is 20"), "\(dataMessage)")
        let sameUnchanged = same.captureState(epoch: 0, step: 0) == sameBefore
        #expect(sameUnchanged)
    }

    static let pythonReadsSafetensors: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import safetensors, numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Python's safetensors reads what Swift wrote: every weight's values bit for bit, the
    /// generator words, and the metadata.
    @Test("Python's safetensors reads a checkpoint written by Swift", .enabled(if: availableOrRequiredInCI(pythonReadsSafetensors)))
    func pythonReads() throws {
        let folder = temporaryFolder()
        let path = folder + "/epoch-0001.safetensors"
        let checkpoint = try Self.checkpoint()
        try checkpoint.write(to: path)
        let script = """
        import sys, json
        from safetensors.numpy import load_file
        from safetensors import safe_open
        tensors = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="numpy") as f:
            metadata = f.metadata()
        out = {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                      "values": [int(v) for v in (t.view("uint32") if t.dtype.name == "float32" else t).ravel()]}
               for name, t in tensors.items()}
        print(json.dumps({"tensors": out, "metadata": metadata}))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let tensors = try #require(json["tensors"] as? [String: [String: Any]])
        for tensor in checkpoint.training.tensors {
            let python = try #require(tensors[tensor.name], "\(tensor.name)")
            #expect(python["dtype"] as? String == "float32" && python["shape"] as? [Int] == tensor.shape, "\(tensor.name)")
            #expect((python["values"] as? [NSNumber])?.map(\.uint32Value) == tensor.values.map(\.bitPattern), "\(tensor.name)")
        }
        let generator = try #require(tensors["rng.replicas.0.layers.4.dropout"])
        #expect(generator["dtype"] as? String == "uint64")
        #expect((generator["values"] as? [NSNumber])?.map(\.uint64Value) == checkpoint.training.generators[0].words)
        let metadata = try #require(json["metadata"] as? [String: String])
        #expect(metadata["format"] == "convlab-checkpoint" && metadata["step"] == "5" && metadata["spec"] == checkpoint[metadata: "spec"])
    }
}

@Suite("A checkpoint path that is not a file")
struct CheckpointSpecialFileTests {
    @Test("a device, a FIFO, a symbolic link or a folder is refused at once: never read without end, never waited on")
    func specialFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-special-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(mkfifo(folder + "/pipe", 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: "/dev/zero")
        for path in ["/dev/zero", folder + "/pipe", folder + "/link", folder] {
            // Off the test's thread: the old reader blocked on the FIFO and read /dev/zero until memory ran out.
            let done = DispatchSemaphore(value: 0)
            let box = ErrorBox()
            DispatchQueue.global().async {
                do { _ = try CheckpointFile.read(path: path, expectedSHA256: nil) } catch { box.set("\(error)") }
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 10) == .success, "\(path): the read did not return")
            #expect(box.value?.hasPrefix(path + ": ") == true, "\(path): \(box.value ?? "accepted")")
        }
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ text: String) { lock.withLock { stored = text } }
    var value: String? { lock.withLock { stored } }
}
