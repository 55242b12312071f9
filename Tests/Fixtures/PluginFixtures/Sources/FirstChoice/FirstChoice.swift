import ConvLabKit

// A sampler and a pruner from a library, for the search's plugin tests: "first_choice" takes each
// domain's low end (or first option) whatever the history; "after_first_epoch" stops every trial
// after its first epoch.
struct FirstChoiceSampler: Sampler {
    func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial {
        let values: [JSONValue] = request.space.dimensions.map { dimension in
            switch dimension.domain {
            case let .uniform(low, _), let .logUniform(low, _): .number(low)
            case let .integer(low, _): .number(Double(low))
            case let .choice(options): options.first ?? .null
            }
        }
        return SampledTrial(values: values, state: .obj([("phase", .string("first"))]))
    }
}

struct AfterFirstEpochPruner: Pruner {
    func decide(_ request: PruneRequest) -> PruneDecision {
        request.epoch >= 1 ? .prune(reason: "the fixture stops every trial after epoch 1") : .keepTraining
    }
}

@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer {
    PluginAPI.export {
        [Plugin(.sampler, "first_choice", "each domain's low end or first option", factory: .sampler { _ in FirstChoiceSampler() }),
         Plugin(.pruner, "after_first_epoch", "stops every trial after its first epoch", factory: .pruner { _ in AfterFirstEpochPruner() })]
    }
}
