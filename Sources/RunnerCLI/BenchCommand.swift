import ConvLabKit
import ArgumentParser
import ConvCore
import Foundation
import Reports
import RunStore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the engine training LeNet-5, or the report views on a large store.",
        discussion: "Build in release mode first: swift build -c release && .build/release/runner bench",
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

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "LeNet-5 (DESIGN §4) training throughput with both cores and with one, per-layer times, and the gradient-check cost.")

    @Option(help: "Images per batch.")
    var batch = 64

    @Option(help: "Seconds to measure each configuration (after a warm-up).")
    var seconds = 5.0

    static var leNet: [any LayerConfiguration] {
        [
            Conv2DConfiguration(filters: 6, kernel: (5, 5), padding: .explicit(height: 2, width: 2)), ActivationConfiguration(.relu),
            Pool2DConfiguration(mode: .max, size: (2, 2)),
            Conv2DConfiguration(filters: 16, kernel: (5, 5)), ActivationConfiguration(.relu), Pool2DConfiguration(mode: .max, size: (2, 2)),
            FlattenConfiguration(), DenseConfiguration(units: 120), ActivationConfiguration(.relu),
            DenseConfiguration(units: 84), ActivationConfiguration(.relu), DenseConfiguration(units: 10),
        ]
    }

    func run() throws {
        let input = Shape(channels: 1, height: 28, width: 28)
        var rng = Xoshiro256(seed: 1)
        let images = (0..<(batch * input.count)).map { _ in Float(rng.nextUnit()) }
        let labels = (0..<batch).map { _ in Int32(rng.nextInt(below: 10)) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let network = try Network<Float>(input: input, layers: Self.leNet, seed: 1)
        print("LeNet-5, batch \(batch), Float32; OpenBLAS \(BLASRuntime.coreName) kernels; \(cores) cores")
        print(String(format: "forward %.2f MFLOP/image, training ≈ %.2f MFLOP/image (forward + backward)",
                     Double(network.forwardFLOPsPerSample) / 1e6, Double(trainingFLOPs(network)) / 1e6))

        func throughput(replicas: Int, threads: Bool) throws -> Double {
            let network = try Network<Float>(input: input, layers: Self.leNet, seed: 1)
            let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self),
                                  replicas: replicas, usesThreads: threads)
            return images.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    for _ in 0..<20 { trainer.step(images: x, labels: y, batch: batch, learningRate: 0.01) }
                    var steps = 0
                    let elapsed = measure {
                        let clock = ContinuousClock(), deadline = clock.now + .milliseconds(Int(seconds * 1000))
                        while clock.now < deadline {
                            trainer.step(images: x, labels: y, batch: batch, learningRate: 0.01)
                            steps += 1
                        }
                    }
                    return Double(steps * batch) / elapsed
                }
            }
        }
        print("\ntraining throughput (forward + backward + SGD update):")
        let both = try throughput(replicas: 2, threads: true)
        print(String(format: "  2 replicas on 2 threads   %8.0f images/s", both))
        let one = try throughput(replicas: 1, threads: false)
        print(String(format: "  1 replica on 1 thread     %8.0f images/s", one))

        print("\nper layer, 1 thread, batch \(batch) (backward of layer 0 skips its input gradient, as in training):")
        let (table, layersAlone) = perLayer(network, images: images)
        print(table.renderText(width: Console.width), terminator: "")
        print(String(format: "(the layers alone, one after the other: %.0f images/s on one core)", layersAlone))

        let double = network.converted(to: Double.self)
        var checkRNG = Xoshiro256(seed: 2)
        var records: [GradientCheckRecord] = []
        let checkTime = measure {
            records = GradientChecker.check(network: double, input: images[0..<(4 * input.count)].map(Double.init), labels: Array(labels[0..<4]),
                                            batch: 4, loss: SoftmaxCrossEntropy(), options: .init(samplesPerTensor: 8), rng: &checkRNG)
        }
        // Counted by raw value, so that every outcome the engine has (`trivial` too) is shown.
        func count(_ outcome: String) -> Int { records.filter { $0.outcome.rawValue == outcome }.count }
        print(String(format: "\ngradient check: %d entries (8 per tensor, batch 4, Float64) in %.3f s — %d passed, %d failed, %d skipped at kinks, %d trivial",
                     records.count, checkTime, count("passed"), count("failed"), count("skipped"), count("trivial")))
    }

    /// Forward FLOPs plus backward: 2× forward for layers with parameters (weight and input
    /// gradients) except the first, which computes only its weight gradient; 1× for the rest.
    func trainingFLOPs(_ network: Network<Float>) -> Int {
        network.layers.enumerated().reduce(0) { total, item in
            let (index, layer) = item
            let f = layer.forwardFLOPsPerSample
            return total + f + (layer.parameters.isEmpty ? f : (index == 0 ? f : 2 * f))
        }
    }

    /// The per-layer table, and the images/s the summed layer times imply.
    func perLayer(_ network: Network<Float>, images: [Float]) -> (Table, Double) {
        setBLASThreads(1)
        let repetitions = 200
        var rows: [[String]] = []
        var layersAlone = 0.0
        images.withUnsafeBufferPointer { x in
            var inputs: [UnsafeBufferPointer<Float>] = []
            var activation = x
            for layer in network.layers {
                inputs.append(activation)
                activation = layer.forward(activation, batch: batch, mode: .training)
            }
            var totalForward = 0.0, totalBackward = 0.0
            for (index, layer) in network.layers.enumerated() {
                let gradient = [Float](repeating: 0.01, count: batch * layer.outputShape.count)
                let forward = measure { for _ in 0..<repetitions { _ = layer.forward(inputs[index], batch: batch, mode: .training) } } / Double(repetitions)
                let backward = gradient.withUnsafeBufferPointer { g in
                    measure { for _ in 0..<repetitions { _ = layer.backward(g, batch: batch, needsInputGradient: index > 0) } }
                } / Double(repetitions)
                totalForward += forward
                totalBackward += backward
                let f = Double(layer.forwardFLOPsPerSample * batch)
                let b = layer.parameters.isEmpty ? f : (index == 0 ? f : 2 * f)
                rows.append([String(index), layer.kind, layer.outputShape.description,
                             String(format: "%.3f", forward * 1e3), f == 0 ? "" : String(format: "%.1f", f / forward / 1e9),
                             String(format: "%.3f", backward * 1e3), b == 0 ? "" : String(format: "%.1f", b / backward / 1e9)])
            }
            rows.append(["", "total", "", String(format: "%.3f", totalForward * 1e3), "", String(format: "%.3f", totalBackward * 1e3), ""])
            layersAlone = Double(batch) / (totalForward + totalBackward)
        }
        return (Table(columns: ["#", "layer", "output", "forward ms", "GFLOP/s", "backward ms", "GFLOP/s"], rows: rows,
                      alignments: [.right, .left, .left, .right, .right, .right, .right]), layersAlone)
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
        let experiment = try writer.createExperiment(name: "bench", specPath: nil, specJSON: "{}")
        let perRun = rows / runs
        let epochs = 20
        var written = 0
        let fill = try measure {
            for index in 0..<runs {
                let pooling = index % 2 == 0 ? "max" : "avg"
                let rate = [0.1, 0.05, 0.01][index % 3]
                let id = try writer.createRun(NewRun(
                    experimentID: experiment, runIndex: index + 1, variant: #"{"model.pooling":"\#(pooling)"}"#, variantLabel: "model.pooling=\(pooling)",
                    specJSON: "{}", specHash: "", seed: UInt64(index), epochsPlanned: epochs, provenance: provenance,
                    params: [("model.pooling", pooling, nil), ("optimizer.learning_rate", "\(rate)", rate), ("seed", "\(index)", Double(index))]))
                try writer.markStarted(run: id)
                var batch = RecordBatch()
                let steps = perRun - 3 * epochs
                for step in 0..<steps {
                    batch.metrics.append(.init(name: "train_loss", step: step, epoch: Double(step) / Double(steps) * Double(epochs),
                                               value: 2 * exp(-Double(step) / Double(steps)), wallTime: Double(step)))
                    if step % 50 == 0 {
                        for layer in [0, 3, 7, 9, 11] {
                            batch.gradientNorms.append(.init(step: step, layer: layer, layerKind: "conv", tensor: "weight", l2: 1, maxAbs: 0.1))
                        }
                    }
                    if batch.count >= 20_000 { try writer.append(batch, run: id, epochsDone: 0, stepsDone: step); batch = RecordBatch() }
                }
                for epoch in 1...epochs {
                    for (name, value) in [("test_accuracy", 0.8 + 0.005 * Double(epoch)), ("test_loss", 0.5), ("train_loss_epoch", 0.4)] {
                        batch.metrics.append(.init(name: name, step: epoch * 100, epoch: Double(epoch), value: value, wallTime: Double(epoch)))
                    }
                }
                try writer.append(batch, run: id, epochsDone: epochs, stepsDone: steps)
                try writer.finish(run: id, status: .completed)
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
