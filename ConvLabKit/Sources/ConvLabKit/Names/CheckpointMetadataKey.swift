/// The keys the runner writes into a checkpoint's metadata beside the training state, and reads
/// back to check that a checkpoint belongs to the run resumed from it (or exported).
public enum CheckpointMetadataKey: String, Sendable, CaseIterable {
    /// The UUID of the run that wrote it.
    case runUUID = "run_uuid"
    /// The run's spec hash (`runs.spec_hash`): a checkpoint of another spec is refused.
    case specHash = "spec_hash"
    /// The run's resolved spec, so that the file says what it is a state of.
    case spec
}
