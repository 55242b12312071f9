import ConvLabKit
import RunnerKit
import Testing
import TextKit

@Suite("the built-in samplers and pruners, as registered")
struct SearchPluginTests {
    static func parameters(_ members: [(String, JSONValue)]) -> ResolvedParameters { ResolvedParameters(members.map { ($0.0, JSONNode($0.1)) }) }

    @Test("tpe, median and asha are registered with their parameters, defaults and ranges")
    func declared() throws {
        let registry = PluginRegistry.builtIn
        #expect(registry.names(.sampler) == ["random", "tpe"])
        #expect(registry.names(.pruner) == ["none", "median", "asha"])
        let tpe = try #require(registry.plugin(.sampler, "tpe"))
        #expect(tpe.parameters.map(\.name) == ["startup_trials", "gamma", "candidates", "prior_weight"])
        #expect(tpe.parameters.map(\.defaultDescription) == ["10", "0.25", "24", "1"])
        #expect(tpe.parameters[1].type.summary == "number in (0, 1)")
        #expect(try #require(registry.plugin(.pruner, "median")).parameters.map(\.defaultDescription) == ["1", "3"])
        let asha = try #require(registry.plugin(.pruner, "asha"))
        #expect(asha.parameters.map(\.name) == ["min_epochs", "eta", "min_early_stopping_rate"])
        #expect(asha.parameters.map(\.defaultDescription) == ["1", "3", "0"])
        #expect(asha.parameters[1].type.summary == "integer in [2, 100]")
    }

    @Test("the factories pass their parameters on")
    func factories() throws {
        let registry = PluginRegistry.builtIn
        guard case .sampler(let makeSampler)? = registry.plugin(.sampler, "tpe")?.factory,
              case .pruner(let makeMedian)? = registry.plugin(.pruner, "median")?.factory,
              case .pruner(let makeASHA)? = registry.plugin(.pruner, "asha")?.factory else {
            Issue.record("tpe, median or asha is not registered with a factory of its kind")
            return
        }
        let tpe = try #require(try makeSampler(Self.parameters([("startup_trials", .int(3)), ("gamma", .number(0.5)), ("candidates", .int(7)), ("prior_weight", .number(2))])) as? TPESampler)
        #expect(tpe.startupTrials == 3 && tpe.gamma == 0.5 && tpe.candidates == 7 && tpe.priorWeight == 2)
        let median = try #require(try makeMedian(Self.parameters([("warmup_epochs", .int(4)), ("min_trials", .int(6))])) as? MedianPruner)
        #expect(median.warmupEpochs == 4 && median.minTrials == 6)
        let asha = try #require(try makeASHA(Self.parameters([("min_epochs", .int(2)), ("eta", .int(4)), ("min_early_stopping_rate", .int(1))])) as? ASHAPruner)
        #expect(asha.minEpochs == 2 && asha.eta == 4 && asha.minEarlyStoppingRate == 1)
    }
}
