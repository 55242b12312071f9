/// The status of a run, as the store records it (`runs.status`; the schema's CHECK lists the
/// same names) and as a probe's `runEnded` hears it.
public enum RunStatus: String, Sendable, CaseIterable {
    case queued, running, completed, failed, interrupted, diverged
    /// A search's trial its pruner stopped early (issue 19): settled, its epochs so far kept.
    case pruned
}
