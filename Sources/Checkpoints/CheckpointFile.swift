import ConvCore
import Crypto
import Datasets
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A training checkpoint as a safetensors file, readable by any safetensors tool:
///
/// - `layers.<i>.<kind>.weight` / `.bias`: the weights, F32, named as in the reports
/// - `optimizer.<buffer>.layers.…`: the optimizer's buffers, F32; `optimizer.<counter>`: U64 [1]
/// - `rng.replicas.<r>.layers.<i>.dropout`: the engine's generators, U64 [4] (xoshiro256 words)
/// - `rng.runner.<name>`: generators the runner owns (gradient-check sampling), U64 [4]
/// - `sampler.state`: the batch order's position, U64 [7] (`BatchSampler.State.words`)
/// - `runner.<name>`: the runner's own counters (U64 [1]) and sums (F64 [1]), e.g. the loss
///   probe's window, which may span an epoch's end
///
/// `__metadata__` holds `format` (`convlab-checkpoint`), `format_version`, `epoch`, `step`,
/// `optimizer`, and the caller's strings (run UUID, spec hash, resolved spec).
public struct CheckpointFile: Equatable, Sendable {
    public static let format = "convlab-checkpoint"
    public static let formatVersion = 1
    /// Metadata keys the file itself uses; callers' keys must differ.
    public static let reservedMetadataKeys: Set<String> = ["format", "format_version", "epoch", "step", "optimizer"]

    public var training: TrainingState<Float>
    public var sampler: BatchSampler.State?
    /// Generators the runner owns, by name (`grad_check`), as xoshiro256 state words.
    public var runnerGenerators: [NamedGenerator]
    /// The runner's counters (images in the loss window) and sums (the window's loss), so that
    /// what it records after a resume is what it would have recorded.
    public var runnerCounters: [NamedCounter]
    public var runnerReals: [NamedReal]
    /// The caller's strings, in order: `run_uuid`, `spec_hash`, `spec`, ….
    public var metadata: [(key: String, value: String)]
    /// The file this checkpoint was read from, for errors; nil when built in memory.
    public private(set) var path: String?

    public init(training: TrainingState<Float>, sampler: BatchSampler.State? = nil, runnerGenerators: [NamedGenerator] = [],
                runnerCounters: [NamedCounter] = [], runnerReals: [NamedReal] = [], metadata: [(key: String, value: String)] = []) {
        precondition(metadata.allSatisfy { !Self.reservedMetadataKeys.contains($0.key) }, "a checkpoint metadata key is reserved")
        precondition(Set(runnerCounters.map(\.name)).isDisjoint(with: runnerReals.map(\.name)), "a runner value name is used twice")
        self.training = training
        self.sampler = sampler
        self.runnerGenerators = runnerGenerators
        self.runnerCounters = runnerCounters
        self.runnerReals = runnerReals
        self.metadata = metadata
    }

    public static func == (a: CheckpointFile, b: CheckpointFile) -> Bool {
        a.training == b.training && a.sampler == b.sampler && a.runnerGenerators == b.runnerGenerators
            && a.runnerCounters == b.runnerCounters && a.runnerReals.map(\.name) == b.runnerReals.map(\.name)
            && a.runnerReals.map(\.value.bitPattern) == b.runnerReals.map(\.value.bitPattern)
            && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
    }

    public subscript(metadata key: String) -> String? { metadata.first { $0.key == key }?.value }

    /// A runner generator by name, ready to continue.
    public func runnerGenerator(_ name: String) -> Xoshiro256? {
        runnerGenerators.first { $0.name == name }.flatMap { Xoshiro256(stateWords: $0.words) }
    }

    public func runnerCounter(_ name: String) -> UInt64? { runnerCounters.first { $0.name == name }?.value }
    public func runnerReal(_ name: String) -> Double? { runnerReals.first { $0.name == name }?.value }

    // MARK: Bytes

    public func encoded() -> [UInt8] {
        var tensors = training.tensors.map { SafeTensors.Tensor(name: $0.name, shape: $0.shape, floats: $0.values) }
        tensors += training.counters.map { SafeTensors.Tensor(name: $0.name, shape: [1], unsigned: [$0.value]) }
        tensors += training.generators.map { SafeTensors.Tensor(name: "rng.\($0.name)", shape: [$0.words.count], unsigned: $0.words) }
        tensors += runnerGenerators.map { SafeTensors.Tensor(name: "rng.runner.\($0.name)", shape: [$0.words.count], unsigned: $0.words) }
        tensors += runnerCounters.map { SafeTensors.Tensor(name: "runner.\($0.name)", shape: [1], unsigned: [$0.value]) }
        tensors += runnerReals.map { SafeTensors.Tensor(name: "runner.\($0.name)", shape: [1], doubles: [$0.value]) }
        if let sampler { tensors.append(SafeTensors.Tensor(name: "sampler.state", shape: [7], unsigned: sampler.words)) }
        let own: [(key: String, value: String)] = [
            ("format", Self.format), ("format_version", String(Self.formatVersion)),
            ("epoch", String(training.epoch)), ("step", String(training.step)), ("optimizer", training.optimizerKind),
        ]
        return SafeTensors(tensors: tensors, metadata: own + metadata).encoded()
    }

    /// Parses a checkpoint's bytes; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(CheckpointError) -> CheckpointFile {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(file: file, problem: problem) }
        let contents: SafeTensors
        do { contents = try SafeTensors.decode(bytes, file: file) } catch { throw CheckpointError(file: file, problem: error.problem) }
        let values = Dictionary(contents.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard values["format"] == format, let versionText = values["format_version"] else {
            throw fail("is not a ConvLab checkpoint (its metadata has no format \"\(format)\" and format_version)")
        }
        guard versionText == String(formatVersion) else {
            throw fail("is a ConvLab checkpoint of format version \(versionText); this ConvLab reads version \(formatVersion) (a newer ConvLab wrote it?)")
        }
        guard let epoch = values["epoch"].flatMap({ Int($0) }), epoch >= 0, let step = values["step"].flatMap({ Int($0) }), step >= 0,
              let optimizer = values["optimizer"], !optimizer.isEmpty else {
            throw fail("has no valid epoch, step and optimizer in its metadata: the checkpoint is damaged")
        }

        var tensors: [NamedTensor<Float>] = [], counters: [NamedCounter] = []
        var generators: [NamedGenerator] = [], runner: [NamedGenerator] = []
        var sampler: BatchSampler.State?
        var runnerCounters: [NamedCounter] = [], runnerReals: [NamedReal] = []
        for tensor in contents.tensors {
            let name = tensor.name
            func wrongType(_ expected: String) -> CheckpointError {
                fail("tensor \"\(name)\" is \(tensor.dtype.rawValue) \(tensor.shape), a checkpoint's is \(expected): the checkpoint is damaged")
            }
            if name.hasPrefix("layers.") || (name.hasPrefix("optimizer.") && tensor.dtype == .f32) {
                guard let floats = tensor.floats else { throw wrongType("F32") }
                tensors.append(NamedTensor(name: name, shape: tensor.shape, values: floats))
            } else if name.hasPrefix("optimizer.") {
                guard let words = tensor.unsigned, words.count == 1 else { throw wrongType("F32 (a buffer) or U64 [1] (a counter)") }
                counters.append(NamedCounter(name: name, value: words[0]))
            } else if name.hasPrefix("rng.") {
                guard let words = tensor.unsigned, Xoshiro256(stateWords: words) != nil else { throw wrongType("U64 [4], not all zero") }
                if name.hasPrefix("rng.runner.") {
                    runner.append(NamedGenerator(name: String(name.dropFirst("rng.runner.".count)), words: words))
                } else {
                    generators.append(NamedGenerator(name: String(name.dropFirst("rng.".count)), words: words))
                }
            } else if name.hasPrefix("runner.") {
                let short = String(name.dropFirst("runner.".count))
                if let words = tensor.unsigned, words.count == 1 {
                    runnerCounters.append(NamedCounter(name: short, value: words[0]))
                } else if let reals = tensor.doubles, reals.count == 1 {
                    runnerReals.append(NamedReal(name: short, value: reals[0]))
                } else {
                    throw wrongType("U64 [1] or F64 [1]")
                }
            } else if name == "sampler.state" {
                guard let words = tensor.unsigned, let state = BatchSampler.State(words: words) else { throw wrongType("U64 [7], a valid batch position") }
                sampler = state
            } else {
                throw fail("holds tensor \"\(name)\", which no ConvLab checkpoint has: the checkpoint is damaged")
            }
        }
        var checkpoint = CheckpointFile(
            training: TrainingState(epoch: epoch, step: step, optimizerKind: optimizer, tensors: tensors, counters: counters,
                                    generators: generators),
            sampler: sampler, runnerGenerators: runner, runnerCounters: runnerCounters, runnerReals: runnerReals,
            metadata: contents.metadata.filter { !reservedMetadataKeys.contains($0.key) })
        checkpoint.path = file
        return checkpoint
    }

    /// The weights alone, for `runner export`: the parameter tensors (F32, named as in the
    /// reports) and the caller's metadata (the resolved spec), which PyTorch loads with
    /// `safetensors.torch.load_file`.
    public func weightsExport(metadata: [(key: String, value: String)]) -> [UInt8] {
        SafeTensors(tensors: training.parameters.map { SafeTensors.Tensor(name: $0.name, shape: $0.shape, floats: $0.values) },
                    metadata: metadata).encoded()
    }

    // MARK: Files

    /// Writes the checkpoint atomically (temporary file, fsync, rename, fsync of the folder) and
    /// returns its size and SHA-256 (lowercase hex) for the store.
    @discardableResult
    public func write(to path: String) throws(CheckpointError) -> (bytes: Int, sha256: String) {
        let prepared = try prepare(to: path)
        do { try prepared.file.commit() } catch { throw Self.writeError(error) }
        return (prepared.bytes, prepared.sha256)
    }

    /// `write`'s first half (`AtomicFile.prepare`): the checkpoint flushed under a temporary name
    /// beside `path`, to be put in place with `file.commit()` or dropped with `file.discard()`.
    public func prepare(to path: String) throws(CheckpointError) -> (file: AtomicFile.Pending, bytes: Int, sha256: String) {
        let bytes = encoded()
        do { return (try AtomicFile.prepare(bytes, for: path), bytes.count, Self.sha256(bytes)) } catch { throw Self.writeError(error) }
    }

    static func writeError(_ error: AtomicFileError) -> CheckpointError {
        CheckpointError(file: error.path, problem: "could not be written: could not \(error.step): \(String(cString: strerror(error.code)))")
    }

    /// Reads and checks a checkpoint: that it exists, is whole, has the SHA-256 the store
    /// recorded (when given), and is a ConvLab checkpoint this version reads.
    public static func read(path: String, expectedSHA256: String?) throws(CheckpointError) -> CheckpointFile {
        let bytes = try readBytes(path)
        if let expected = expectedSHA256 {
            let actual = sha256(bytes)
            guard actual == expected.lowercased() else {
                throw CheckpointError(file: path, problem: "SHA-256 is \(actual), the store recorded \(expected): the checkpoint was changed or damaged")
            }
        }
        return try decode(bytes, file: path)
    }

    /// Puts the checkpoint into a trainer and, when it holds one, a batch sampler. Everything is
    /// checked before anything changes; a checkpoint of another network names the tensor.
    public func restore(into trainer: Trainer<Float>, sampler target: inout BatchSampler) throws(CheckpointError) {
        let file = path ?? "checkpoint"
        guard let sampler else { throw CheckpointError(file: file, problem: "holds no batch position (sampler.state)") }
        var probe = target
        do { try probe.restore(sampler) } catch { throw CheckpointError(file: file, problem: error.message) }
        do { try trainer.restore(training) } catch { throw CheckpointError(file: file, problem: error.description) }
        target = probe
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// A checkpoint larger than this is not one (LeNet's is 251 KB): refused before it is read.
    public static let maximumBytes = 1 << 31

    static func readBytes(_ path: String) throws(CheckpointError) -> [UInt8] {
        // Never blocks on a FIFO, never follows a link out of the folder, never reads a device.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard descriptor >= 0 else {
            let code = errno
            let problem = code == ENOENT
                ? "does not exist: the checkpoint is missing (was the artifacts folder moved or deleted?)"
                : code == ELOOP ? "is a symbolic link, not a checkpoint file"
                : "could not be opened: \(String(cString: strerror(code)))"
            throw CheckpointError(file: path, problem: problem)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw CheckpointError(file: path, problem: "is not a regular file, so not a checkpoint")
        }
        guard status.st_size <= maximumBytes else {
            throw CheckpointError(file: path, problem: "is \(status.st_size) bytes, more than any checkpoint (\(maximumBytes)): not a checkpoint")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(file: path, problem: "could not be read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }
}

/// A runner value that is not an integer (a sum of losses), kept bit for bit.
public struct NamedReal: Equatable, Sendable {
    public var name: String
    public var value: Double
    public init(name: String, value: Double) { self.name = name; self.value = value }
}

/// One line: the file and what is wrong with it.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var description: String { "\(file): \(problem)" }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(width - count, 0)) + self }
}

/// POSIX read(2), named apart from `CheckpointFile.read`.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(descriptor, buffer, count) }
