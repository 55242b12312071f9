import ConvLabKit
import Foundation
import RunStore
import Testing
@testable import RunnerKit
import TestSupport

@Suite("A plugin is held to its declaration: factories of its kind, parameters a spec can meet, data as described")
struct PluginDeclarationTests {
    static func refusal(_ plugin: Plugin) -> String? {
        do { _ = try PluginRegistry.builtIn.adding([plugin], from: "libX.so"); return nil } catch { return error.description }
    }

    static let pool: Plugin.Factory = .pooling { _ in PoolingMode.max }

    @Test("a kind and a factory that disagree are refused, naming both")
    func kindMismatch() {
        let message = Self.refusal(Plugin(.layer, "k_layer_is_pool", "a layer that makes a pooling rule", factory: Self.pool))
        #expect(message == "libX.so: layer plugin \"k_layer_is_pool\": it is declared as a layer but its factory makes a pooling")
        #expect(Self.refusal(Plugin(.pooling, "fine_pool", "a pooling rule", factory: Self.pool)) == nil)
    }

    @Test("badly declared parameters are refused at load, each with its reason", arguments: [
        (ParameterDeclaration("a", .layers, default: .optional, ""), "a type for the spec's own keys"),
        (ParameterDeclaration("a", .probes, default: .optional, ""), "a type for the spec's own keys"),
        (ParameterDeclaration("a", .matrix, default: .optional, ""), "a type for the spec's own keys"),
        (ParameterDeclaration("a", .section([]), default: .optional, ""), "a type for the spec's own keys"),
        (ParameterDeclaration("a", .plugin(.probe), default: .optional, ""), "not a probe"),
        (ParameterDeclaration("a", .choice([]), default: .optional, ""), "at least one option"),
        (ParameterDeclaration("a", .integer(minimum: 5, maximum: 2), default: .required, ""), "its range is empty"),
        (ParameterDeclaration("a", .number(minimum: .nan), default: .optional, ""), "finite"),
        (ParameterDeclaration("a", .number(minimum: 1, maximum: 1, exclusiveMaximum: true), default: .optional, ""), "its range is empty"),
        (ParameterDeclaration("a", .size(minimum: -3), default: .optional, ""), "a size's minimum"),
        (ParameterDeclaration("a", .number(), default: .inherited("model.pooling"), ""), "for the spec's own keys"),
        (ParameterDeclaration("a", .number(minimum: 1), default: .number(0.5), ""), "its default 0.5 is not number ≥ 1"),
        (ParameterDeclaration("plugin", .string, default: .optional, ""), "reserved"),
        (ParameterDeclaration("two words", .string, default: .optional, ""), "a name must be"),
    ])
    func badParameters(declaration: ParameterDeclaration, fragment: String) {
        let message = Self.refusal(Plugin(.pooling, "p_bad", "", parameters: [declaration], factory: Self.pool)) ?? "accepted"
        #expect(message.hasPrefix("libX.so: pooling plugin \"p_bad\": parameter \"\(declaration.name)\"") && message.contains(fragment), "\(message)")
    }

    @Test("a parameter declared twice, and a name a spec cannot write, are refused")
    func names() {
        let twice = [ParameterDeclaration("p", .number(), default: .optional, ""), ParameterDeclaration("p", .number(), default: .optional, "")]
        #expect(Self.refusal(Plugin(.pooling, "p_twice", "", parameters: twice, factory: Self.pool))?.contains("declared twice") == true)
        #expect(Self.refusal(Plugin(.pooling, "9lives", "", factory: Self.pool))?.contains("its name must be") == true)
        #expect(Self.refusal(Plugin(.pooling, String(repeating: "a", count: 65), "", factory: Self.pool))?.contains("its name must be") == true)
    }

    @Test("an optimizer must declare learning_rate, a number with a default: the schedule scales it, and nothing else supplies it")
    func optimizerLearningRate() {
        let optimizer: Plugin.Factory = .optimizer { _ in OptimizerConfiguration.sgd(momentum: 0, nesterov: false, weightDecay: 0) }
        let expected = "libX.so: optimizer plugin \"o_plain\": an optimizer must declare \"learning_rate\", a number with a default value (the step size the schedule scales)"
        #expect(Self.refusal(Plugin(.optimizer, "o_plain", "", factory: optimizer)) == expected)
        #expect(Self.refusal(Plugin(.optimizer, "o_plain", "", parameters: [.init("learning_rate", .number(), default: .required, "")],
                                    factory: optimizer)) == expected)
        #expect(Self.refusal(Plugin(.optimizer, "o_plain", "", parameters: [.init("learning_rate", .number(minimum: 0), default: .number(0.3), "")],
                                    factory: optimizer)) == nil)
    }

    @Test("ten thousand plugins register in well under the hang guard (lookups are by kind and name, not a scan)")
    func manyPlugins() throws {
        let many = (0..<10_000).map { Plugin(.pooling, "pool_\($0)", "", factory: Self.pool) }
        let registry = try PluginRegistry.builtIn.adding(many, from: "libMany.so")
        #expect(registry.plugins(.pooling).count == 10_002)
        #expect(registry.plugin(.pooling, "pool_9999") != nil && registry.plugin(.pooling, "max") != nil)
    }

    /// A data set whose loaded data differs from what it described: `mode` says how.
    static func lyingRegistry() -> PluginRegistry {
        var registry = PluginRegistry.builtIn
        registry.register(Plugin(.dataset, "lying", "describes 8×8 in 3 classes", parameters: [
            .init("mode", .choice(["honest", "shape", "labels", "classes"]), default: .string("honest"), ""),
        ], factory: .dataset(DatasetPlugin(describe: { _ in .init(sampleShape: Shape(channels: 1, height: 8, width: 8), classes: 3) },
                                           load: { p, seed in
            let mode = p.string("mode", default: "honest")
            let side = mode == "shape" ? 16 : 8
            let split = SyntheticDataset.make(seed: seed, trainCount: 64, testCount: 16, classes: mode == "classes" ? 4 : 3, size: side)
            guard mode == "labels" else { return split }
            var train = split.train
            train.labels[5] = 1000
            return DatasetSplit(train: train, test: split.test)
        }))))
        return registry
    }

    @Test("a data set that loads other data than it described fails its run, saying what differs; an honest one trains", arguments: [
        ("honest", nil), ("shape", "its training images are 1×16×16, but it described 1×8×8 when the spec was checked"),
        ("labels", "training label 5 is 1000, outside the 3 classes 0…2"), ("classes", "its training part has 4 classes, but it described 3"),
    ] as [(String, String?)])
    func datasetHeldToDescription(mode: String, message: String?) throws {
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["dataset"] = ["plugin": "lying", "mode": mode]
            spec["training"] = ["epochs": 1, "batch_size": 16]
        }, file: "t.json", registry: Self.lyingRegistry())
        let runner = ExperimentRunner(store: try RunStore(path: temporaryPath("s.sqlite")), reporter: RecordingReporter(), stop: StopSignal())
        let outcome = try #require(try runner.execute(plan).first)
        if let message {
            #expect(outcome.status == .failed)
            #expect(outcome.error == "the lying data set: \(message)", "\(outcome.error ?? "")")
        } else {
            #expect(outcome.status == .completed, "\(outcome.error ?? "")")
        }
    }
}
