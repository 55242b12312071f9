/// The one clock of a run, started when the run is claimed: elapsed seconds for the progress
/// line and the stored `wall_time`, the time spent in the store, the time spent in the probes'
/// hooks (left out of the training speed). Monotonic, so a changed system time moves nothing.
struct RunClock {
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init() { start = clock.now }

    var now: ContinuousClock.Instant { clock.now }

    /// Seconds since the run was claimed.
    var elapsed: Double { seconds(since: start) }

    func seconds(since instant: ContinuousClock.Instant) -> Double {
        let d = clock.now - instant
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
