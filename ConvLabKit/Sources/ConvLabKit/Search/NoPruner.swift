/// Never stops a trial: every trial trains for all its epochs.
public struct NoPruner: Pruner {
    public init() {}
    public func decide(_ request: PruneRequest) -> PruneDecision { .keepTraining }
}
