import ConvLabKit
import ArgumentParser
import ConvCore
import Foundation
import Reports
import RunnerKit
import RunStore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the engine training a spec's network (default LeNet-5), or the report views on a large store.",
        discussion: """
            Build in release mode first: swift build -c release && .build/release/runner bench
            runner bench deep --json     # Experiments/deep.json's network, as one JSON object
            runner bench store           # the report views on a store of 1,000,000 metric rows
            """,
        subcommands: [EngineBench.self, StoreBench.self],
        defaultSubcommand: EngineBench.self)
}

/// Seconds taken by `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// The process's peak resident set (VmHWM of /proc/self/status) in bytes; nil where there is none.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return nil
}

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "A spec's network (default LeNet-5): training throughput on two threads and on one, per-layer times and GFLOP/s, peak memory, and the gradient-check cost.")

    @Argument(help: ArgumentHelp("An experiment spec (path or name in Experiments/); default: LeNet-5 (DESIGN §4).", valueName: "spec"))
    var spec: String?

    @Option(name: .customLong("run"), help: "Which run of the spec's matrix (from 1).")
    var runIndex = 1

    @Option(help: "Images per batch (default: the spec's training.batch_size; 64 for LeNet-5).")
    var batch: Int?

    @Option(help: "Seconds to measure each configuration (after a warm-up).")
    var seconds = 5.0

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var plugins: PluginOptions

    @Flag(help: "Skip the gradient check.")
    var noGradientCheck = false

    static var leNet: [any LayerConfiguration] {
        [
            Conv2DConfiguration(filters: 6, kernel: (5, 5), padding: .explicit(height: 2, width: 2)), ActivationConfiguration(.relu),
            Pool2DConfiguration(mode: .max, size: (2, 2)),
            Conv2DConfiguration(filters: 16, kernel: (5, 5)), ActivationConfiguration(.relu), Pool2DConfiguration(mode: .max, size: (2, 2)),
            FlattenConfiguration(), DenseConfiguration(units: 120), ActivationConfiguration(.relu),
            DenseConfiguration(units: 84), ActivationConfiguration(.relu), DenseConfiguration(units: 10),
        ]
    }

    /// What is trained: the network, its recipe, and the replica count of the spec.
    struct Subject {
        var name: String
        var input: Shape
        var classes: Int
        var layers: [any LayerConfiguration]
        var initializer: any WeightInitializer
        var seed: UInt64
        var loss: any LossFunction
        var optimizer: any OptimizerRecipe
        var learningRate: Double
        var batch: Int
        var replicas: Int

        func network() throws -> Network<Float> {
            try Network<Float>(input: input, layers: layers, initializer: initializer, seed: seed)
        }
    }

    func subject() throws -> Subject {
        guard let spec else {
            return Subject(name: "LeNet-5", input: Shape(channels: 1, height: 28, width: 28), classes: 10, layers: Self.leNet,
                           initializer: Initializer.heUniform, seed: 1, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd(), learningRate: 0.01,
                           batch: batch ?? 64, replicas: 2)
        }
        guard let plan = try loadPlans([spec], registry: plugins.registry()).first else { throw ExitCode(2) }
        guard (1...plan.runs.count).contains(runIndex) else {
            Console.error("\(plan.file): --run \(runIndex): the spec has \(plan.runs.count) run\(plan.runs.count == 1 ? "" : "s")")
            throw ExitCode(2)
        }
        let r = plan.runs[runIndex - 1]
        return Subject(name: plan.name + (plan.runs.count > 1 ? " (\(r.variant.label))" : ""), input: r.inputShape, classes: r.classes,
                       layers: r.layers, initializer: r.initializer, seed: r.seed, loss: r.loss, optimizer: r.optimizer,
                       learningRate: r.learningRate, batch: batch ?? r.training.batchSize, replicas: max(2, r.training.replicas))
    }

    func run() throws {
        let subject = try subject()
        let batch = subject.batch
        guard batch >= 1 else { Console.error("--batch must be at least 1"); throw ExitCode(2) }
        let input = subject.input
        var rng = Xoshiro256(seed: 1)
        let images = (0..<(batch * input.count)).map { _ in Float(rng.nextUnit()) }
        let labels = (0..<batch).map { _ in Int32(rng.nextInt(below: subject.classes)) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let network = try subject.network()
        let cpu = Provenance.cpuModel() ?? "unknown CPU"
        // A small rate: the data is random, and the speed must not depend on weights blowing up.
        let rate = min(subject.learningRate, 0.01)
        func say(_ text: String) { if !json { print(text) } }
        say("\(subject.name), batch \(batch), Float32; \(cpu), \(cores) cores; OpenBLAS \(BLASRuntime.coreName) kernels")
        say(String(format: "forward %.2f MFLOP/image, training ≈ %.2f MFLOP/image (forward + backward)",
                   Double(network.forwardFLOPsPerSample) / 1e6, Double(trainingFLOPs(network)) / 1e6))
        let isa = KernelISA.selected
        let peak = isa.peakGFLOPs()
        say(String(format: "engine kernels: %@ (CONVLAB_KERNELS=avx2 or generic chooses a lower one); peak of one core, measured with an FMA loop: %.1f GFLOP/s",
                   isa.name, peak))

        func throughput(replicas: Int, threads: Bool) throws -> Double {
            let network = try subject.network()
            let trainer = Trainer(network: network, loss: subject.loss, optimizer: subject.optimizer.make(Float.self),
                                  replicas: replicas, usesThreads: threads)
            return images.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    for _ in 0..<10 { trainer.step(images: x, labels: y, batch: batch, learningRate: rate) }
                    var steps = 0
                    let elapsed = measure {
                        let clock = ContinuousClock(), deadline = clock.now + .milliseconds(Int(seconds * 1000))
                        while clock.now < deadline || steps < 3 {
                            trainer.step(images: x, labels: y, batch: batch, learningRate: rate)
                            steps += 1
                        }
                    }
                    return Double(steps * batch) / elapsed
                }
            }
        }
        say("\ntraining throughput (forward + backward + optimizer update):")
        let both = try throughput(replicas: 2, threads: true)
        say(String(format: "  2 replicas on 2 threads   %8.0f images/s", both))
        let one = try throughput(replicas: 1, threads: false)
        say(String(format: "  1 replica on 1 thread     %8.0f images/s", one))

        say("\nper layer, 1 thread, batch \(batch) (the first layer with parameters skips its input gradient, as in training):")
        let layers = perLayer(network, images: images, batch: batch)
        func gflops(_ flops: Double, _ seconds: Double) -> String { flops == 0 ? "" : String(format: "%.1f", flops / seconds / 1e9) }
        func share(_ flops: Double, _ seconds: Double) -> String { flops == 0 ? "" : String(format: "%.0f %%", 100 * flops / seconds / 1e9 / peak) }
        let forwardTotal = layers.reduce(0) { $0 + $1.forward }, backwardTotal = layers.reduce(0) { $0 + $1.backward }
        let forwardFLOPs = layers.reduce(0) { $0 + $1.forwardFLOPs }, backwardFLOPs = layers.reduce(0) { $0 + $1.backwardFLOPs }
        let table = Table(
            columns: ["#", "layer", "output", "forward ms", "GFLOP/s", "of peak", "backward ms", "GFLOP/s", "of peak"],
            rows: layers.map { l in
                [String(l.index), l.kind, l.output, String(format: "%.3f", l.forward * 1e3),
                 gflops(l.forwardFLOPs, l.forward), share(l.forwardFLOPs, l.forward),
                 String(format: "%.3f", l.backward * 1e3), gflops(l.backwardFLOPs, l.backward), share(l.backwardFLOPs, l.backward)]
            } + [["", "total", "", String(format: "%.3f", forwardTotal * 1e3), gflops(forwardFLOPs, forwardTotal),
                  share(forwardFLOPs, forwardTotal), String(format: "%.3f", backwardTotal * 1e3),
                  gflops(backwardFLOPs, backwardTotal), share(backwardFLOPs, backwardTotal)]],
            alignments: [.right, .left, .left, .right, .right, .right, .right, .right, .right])
        let layersAlone = Double(batch) / (forwardTotal + backwardTotal)
        if !json {
            print(table.renderText(width: Console.width), terminator: "")
            print(String(format: "(the layers alone, one after the other: %.0f images/s on one core)", layersAlone))
            print("(GFLOP/s and share of peak count a layer's FLOPs by the direct formulas, so a convolution computed with")
            print(" fewer multiplications — Winograd, for 3×3 stride-1 ones — can exceed 100 %.)")
        }

        var check: (entries: Int, seconds: Double, passed: Int, failed: Int, skipped: Int, trivial: Int)?
        if !noGradientCheck {
            let double = network.converted(to: Double.self)
            var checkRNG = Xoshiro256(seed: 2)
            var records: [GradientCheckRecord] = []
            let sample = min(4, batch)
            let checkTime = measure {
                records = GradientChecker.check(network: double, input: images[0..<(sample * input.count)].map(Double.init),
                                                labels: Array(labels[0..<sample]), batch: sample, loss: subject.loss,
                                                options: .init(samplesPerTensor: 8), rng: &checkRNG)
            }
            // Counted by raw value, so that every outcome the engine has (`trivial` too) is shown.
            func count(_ outcome: String) -> Int { records.filter { $0.outcome.rawValue == outcome }.count }
            check = (records.count, checkTime, count("passed"), count("failed"), count("skipped"), count("trivial"))
            say(String(format: "\ngradient check: %d entries (8 per tensor, batch %d, Float64) in %.3f s — %d passed, %d failed, %d skipped at kinks, %d trivial",
                       records.count, sample, checkTime, count("passed"), count("failed"), count("skipped"), count("trivial")))
        }
        let peakMemory = peakResidentBytes()
        say(peakMemory.map { String(format: "peak memory (VmHWM): %.1f MB", Double($0) / 1e6) } ?? "peak memory: not available")

        if json {
            var object: [String: Any] = [
                "network": subject.name, "spec": spec ?? NSNull(), "batch": batch, "cpu": cpu, "cores": cores,
                "blas_kernels": BLASRuntime.coreName,
                "forward_mflop_per_image": Double(network.forwardFLOPsPerSample) / 1e6,
                "training_mflop_per_image": Double(trainingFLOPs(network)) / 1e6,
                "images_per_second_2_threads": both, "images_per_second_1_thread": one,
                "kernel_isa": isa.name, "peak_gflops_one_core": peak,
                "layers_alone_images_per_second": layersAlone,
                "layers": layers.map { l -> [String: Any] in
                    ["index": l.index, "kind": l.kind, "output": l.output, "forward_ms": l.forward * 1e3,
                     "forward_gflops": l.forwardFLOPs == 0 ? NSNull() : l.forwardFLOPs / l.forward / 1e9 as Any,
                     "forward_share_of_peak": l.forwardFLOPs == 0 ? NSNull() : l.forwardFLOPs / l.forward / 1e9 / peak as Any,
                     "backward_ms": l.backward * 1e3,
                     "backward_gflops": l.backwardFLOPs == 0 ? NSNull() : l.backwardFLOPs / l.backward / 1e9 as Any,
                     "backward_share_of_peak": l.backwardFLOPs == 0 ? NSNull() : l.backwardFLOPs / l.backward / 1e9 / peak as Any]
                },
                "peak_rss_bytes": peakMemory ?? NSNull(),
                "load_average": loadAverage() ?? NSNull(),
            ]
            if let check {
                object["gradient_check"] = ["entries": check.entries, "seconds": check.seconds, "passed": check.passed,
                                            "failed": check.failed, "skipped": check.skipped, "trivial": check.trivial]
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The one-minute load average (Linux), so a figure taken on a busy machine says so.
    func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// Forward FLOPs plus backward: 2× forward for layers with parameters (weight and input
    /// gradients) except the first such layer, which computes only its weight gradient; 1× for the rest.
    func trainingFLOPs(_ network: Network<Float>) -> Int {
        let first = network.layers.firstIndex { !$0.parameters.isEmpty } ?? network.layers.count
        return network.layers.enumerated().reduce(0) { total, item in
            let (index, layer) = item
            let f = layer.forwardFLOPsPerSample
            return total + f + (layer.parameters.isEmpty ? f : (index == first ? f : 2 * f))
        }
    }

    struct LayerTime {
        var index: Int, kind: String, output: String
        var forward: Double, backward: Double            // seconds per batch
        var forwardFLOPs: Double, backwardFLOPs: Double  // per batch
    }

    /// Each layer's forward and backward time on one thread, alone, repeated.
    func perLayer(_ network: Network<Float>, images: [Float], batch: Int) -> [LayerTime] {
        setBLASThreads(1)
        let first = network.layers.firstIndex { !$0.parameters.isEmpty } ?? network.layers.count
        // About 0.2 s per layer and direction, at least 5 repetitions.
        let estimate = Double(trainingFLOPs(network) * batch) / 20e9
        let repetitions = max(5, min(200, Int(0.2 * Double(network.layers.count) / max(estimate, 1e-6))))
        var rows: [LayerTime] = []
        images.withUnsafeBufferPointer { x in
            var inputs: [UnsafeBufferPointer<Float>] = []
            var activation = x
            for layer in network.layers {
                inputs.append(activation)
                activation = layer.forward(activation, batch: batch, mode: .training)
            }
            for (index, layer) in network.layers.enumerated() {
                let gradient = [Float](repeating: 0.01, count: batch * layer.outputShape.count)
                _ = layer.forward(inputs[index], batch: batch, mode: .training)
                let forward = measure { for _ in 0..<repetitions { _ = layer.forward(inputs[index], batch: batch, mode: .training) } } / Double(repetitions)
                let backward = gradient.withUnsafeBufferPointer { g in
                    measure { for _ in 0..<repetitions { _ = layer.backward(g, batch: batch, needsInputGradient: index > first) } }
                } / Double(repetitions)
                let f = Double(layer.forwardFLOPsPerSample * batch)
                let b = layer.parameters.isEmpty ? f : (index == first ? f : 2 * f)
                rows.append(LayerTime(index: index, kind: layer.kind, output: layer.outputShape.description,
                                      forward: forward, backward: backward, forwardFLOPs: f, backwardFLOPs: b))
            }
        }
        return rows
    }
}

struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Fill a throw-away store with many metric rows, then time every report view on it.")

    @Option(help: "Runs to create.")
    var runs = 100

    @Option(help: "Metric rows in all (spread over the runs).")
    var rows = 1_000_000

    @Option(help: ArgumentHelp("Where to build the store (default: a temporary folder).", valueName: "path"))
    var store: String?

    func run() throws {
        let path = store ?? FileManager.default.temporaryDirectory.appendingPathComponent("convlab-bench-\(UUID().uuidString).sqlite").path
        let writer = try RunStore(path: path)
        let provenance = RunProvenance(host: "bench", os: "", convlabVersion: "", swiftVersion: "", blas: "")
        let perRun = rows / runs
        let epochs = 20
        var written = 0
        // Written as `runner exec` writes: the sweep's runs created at once, each claimed, then
        // appended to and finished by its claimant.
        let newRuns = (0..<runs).map { index in
            let pooling = index % 2 == 0 ? "max" : "avg"
            let rate = [0.1, 0.05, 0.01][index % 3]
            return NewRun(experimentID: 0, runIndex: index + 1, variant: #"{"model.pooling":"\#(pooling)"}"#, variantLabel: "model.pooling=\(pooling)",
                          specJSON: "{}", specHash: "", seed: UInt64(index), epochsPlanned: epochs, provenance: provenance,
                          params: [("model.pooling", pooling, nil), ("optimizer.learning_rate", "\(rate)", rate), ("seed", "\(index)", Double(index))])
        }
        let claimant = RunStore.claimant
        let fill = try measure {
            let sweep = try writer.openSweep(name: "bench", specPath: "", specJSON: "{}", specHash: UUID().uuidString, runs: newRuns, fresh: true)
            for id in sweep.runs.map(\.id) {
                _ = try writer.claim(run: id, staleAfter: .infinity, claimant: claimant)
                var batch = RecordBatch()
                let steps = perRun - 3 * epochs
                for step in 0..<steps {
                    batch.metrics.append(.init(name: MetricName.trainLoss.rawValue, step: step, epoch: Double(step) / Double(steps) * Double(epochs),
                                               value: 2 * exp(-Double(step) / Double(steps)), wallTime: Double(step)))
                    if step % 50 == 0 {
                        for layer in [0, 3, 7, 9, 11] {
                            batch.gradientNorms.append(.init(step: step, layer: layer, layerKind: "conv", tensor: "weight", l2: 1, maxAbs: 0.1))
                        }
                    }
                    if batch.count >= 20_000 {
                        _ = try writer.append(batch, run: id, epochsDone: 0, stepsDone: step, claimant: claimant)
                        batch = RecordBatch()
                    }
                }
                for epoch in 1...epochs {
                    for (name, value) in [(MetricName.testAccuracy, 0.8 + 0.005 * Double(epoch)), (.testLoss, 0.5), (.trainLossEpoch, 0.4)] {
                        batch.metrics.append(.init(name: name.rawValue, step: epoch * 100, epoch: Double(epoch), value: value, wallTime: Double(epoch)))
                    }
                }
                _ = try writer.append(batch, run: id, epochsDone: epochs, stepsDone: steps, claimant: claimant)
                _ = try writer.finish(run: id, status: .completed, claimant: claimant)
                written += perRun
            }
        }
        print(String(format: "store: %@ — %d runs, %d metric rows, written in %.1f s (%.0f rows/s)", path, runs, written, fill, Double(written) / fill))

        let reader = try StoreReader(path: path)
        var reporter = Reporter(reader: reader)
        reporter.now = Date().timeIntervalSince1970
        let views: [(String, () throws -> Void)] = [
            ("report (runs table)", { _ = try reporter.runs(RunFilter()).render(.table, width: 160) }),
            ("report --group-by model.pooling", { _ = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85).render(.table, width: 160) }),
            ("report --group-by model.pooling --where optimizer.learning_rate<0.1", {
                _ = try reporter.groups(by: ["model.pooling"], filter: RunFilter(wheres: [WhereClause(key: "optimizer.learning_rate", op: .less, value: "0.1")]),
                                        targetAccuracy: 0.85).render(.table, width: 160)
            }),
            ("report --run 50 (detail, \(perRun) metric rows)", { _ = try reporter.run(50).render(.table, width: 160) }),
            ("report --run 50 --format json", { _ = try reporter.run(50).render(.json, width: 160) }),
            ("report --sql \"SELECT * FROM run_final_metrics\"", { _ = try reader.query("SELECT * FROM run_final_metrics") }),
            ("report --html (all runs)", { _ = try reporter.html(filter: RunFilter(), groupBy: ["model.pooling"], targetAccuracy: 0.85) }),
        ]
        print("\nview                                                          seconds")
        for (name, view) in views {
            let time = try measure(view)
            print(name.padding(toLength: 62, withPad: " ", startingAt: 0) + String(format: "%7.3f", time))
        }
        if store == nil {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}
