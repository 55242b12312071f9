import ConvLabKit
import Dispatch
import RunStore
import Synchronization

/// Refreshes a running run's heartbeat on a timer of its own, whatever the training loop is doing
/// (a long evaluation, a slow reference convolution, a slow data load), so that only a dead
/// process looks stale. The beat is a one-row UPDATE on the store's writer, which serialises it
/// with the run's own writes. A beat that finds the run claimed by another process (this one was
/// silent past the stale limit) sets `lost`, and the training loop stops at its next step.
final class Heartbeat: @unchecked Sendable {
    private let timer: any DispatchSourceTimer
    private let queue = DispatchQueue(label: "convlab.heartbeat")
    private var stopped = false
    private let flag = LostClaim()

    /// True once a beat found that `claimant` no longer holds the run.
    var lost: Bool { flag.value.load(ordering: .relaxed) }

    /// Starts beating every `interval` seconds (the first beat one interval from now); an interval
    /// that is not a number of seconds between 0.01 and an hour is taken as 5.
    init(store: RunStore, run id: Int64, claimant: String, interval: Double) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let seconds = interval.isFinite && (0.01...3600).contains(interval) ? interval : 5
        let nanoseconds = Int(seconds * 1e9)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds), leeway: .milliseconds(50))
        let flag = flag
        // A beat that fails (the store busy beyond its timeout) is skipped: the next one may succeed,
        // and the run's own writes report real store failures.
        timer.setEventHandler {
            if let held = try? store.beat(run: id, claimant: claimant), !held { flag.value.store(true, ordering: .relaxed) }
        }
        self.timer = timer
        timer.resume()
    }

    /// Stops the timer and waits for a beat in progress, so none happens after this returns.
    func stop() {
        guard !stopped else { return }
        stopped = true
        timer.cancel()
        queue.sync {}
    }

    deinit { stop() }
}

/// Set by the heartbeat's timer, read by the training loop.
private final class LostClaim: Sendable {
    let value = Atomic<Bool>(false)
}
