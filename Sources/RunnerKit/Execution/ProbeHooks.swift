import ConvLabKit
import RunStore

/// The run's probes, called hook by hook in the spec's order; what they record goes to the
/// writer's next write, each value checked: the first NaN or infinity ends the run as diverged.
final class ProbeHooks {
    let probes: [(name: String, probe: any Probe)]
    let recorder = ProbeRecorder()
    private let writer: RunWriter
    private let clock: RunClock
    /// Seconds spent in the hooks: left out of the training speed.
    private(set) var seconds = 0.0
    /// The last finite training loss a probe recorded in this process, if any.
    private(set) var latestTrainLoss: Double?

    init(_ probes: [(name: String, probe: any Probe)], writer: RunWriter, clock: RunClock) {
        self.probes = probes
        self.writer = writer
        self.clock = clock
    }

    /// Calls `hook` on every probe, then files what they recorded at `step` (epoch position `epoch`).
    func call(step: Int, epoch: Double, wallTime: Double, _ hook: (any Probe) throws -> Void) throws(RunStop) {
        let start = clock.now
        defer { seconds += clock.seconds(since: start) }
        (recorder.step, recorder.epoch) = (step, epoch)
        for (name, probe) in probes {
            do { try hook(probe) } catch {
                try collect(wallTime: wallTime)
                throw .failed("the \(name) probe failed: \(error)")
            }
        }
        try collect(wallTime: wallTime)
    }

    /// Moves the recorder's rows into the writer's batch, keeping the finite ones.
    func collect(wallTime: Double) throws(RunStop) {
        let drained = recorder.drain()
        var firstBad: String?
        var metrics: [RecordBatch.Metric] = [], norms: [RecordBatch.GradientNorm] = [], checks: [RecordBatch.GradientCheck] = []
        func admit<Row>(_ rows: [Row], into list: inout [Row], _ describe: (Row) -> String?) {
            for row in rows {
                if let bad = describe(row) { firstBad = firstBad ?? bad } else { list.append(row) }
            }
        }
        admit(drained.metrics.map { RecordBatch.Metric(name: $0.name, step: $0.step, epoch: $0.epoch, value: $0.value, wallTime: wallTime) },
              into: &metrics, \.nonFiniteDescription)
        admit(drained.gradientNorms.map { RecordBatch.GradientNorm(step: $0.step, layer: $0.layer, layerKind: $0.layerKind, tensor: $0.tensor,
                                                                  l2: $0.l2, maxAbs: $0.maxAbs) },
              into: &norms, \.nonFiniteDescription)
        admit(drained.gradientChecks.map { check in
            let r = check.record
            return RecordBatch.GradientCheck(step: check.step, layer: r.layerIndex, layerKind: r.layerKind, tensor: r.tensor, entry: r.index,
                                             analytic: r.analytic, numeric: r.numeric, absoluteError: r.absoluteError,
                                             relativeError: r.relativeError, outcome: r.outcome.rawValue)
        }, into: &checks, \.nonFiniteDescription)
        writer.add(metrics: metrics, gradientNorms: norms, gradientChecks: checks)
        for event in drained.events { writer.event(EventKind(rawValue: event.kind), event.message) }
        if let train = drained.metrics.last(where: { $0.name == MetricName.trainLoss.rawValue && $0.value.isFinite }) { latestTrainLoss = train.value }
        if let firstBad { throw .diverged(firstBad) }
    }

    /// Every probe's state, for a checkpoint; names must be unique across probes and forms.
    func savedState() throws(RunStop) -> ProbeState {
        var all = ProbeState()
        var owner: [String: String] = [:]
        for (name, probe) in probes {
            let state = probe.saveState()
            for key in Array(state.generators.keys) + Array(state.counters.keys) + Array(state.reals.keys) {
                if let other = owner[key] {
                    throw .failed("the \(name) and \(other) probes both save a value named \"\(key)\"; a probe's state names must be its own (start them with the probe's name)")
                }
                owner[key] = name
            }
            all.generators.merge(state.generators) { a, _ in a }
            all.counters.merge(state.counters) { a, _ in a }
            all.reals.merge(state.reals) { a, _ in a }
        }
        return all
    }

    /// Gives every probe the checkpoint's saved state.
    func restore(_ state: ProbeState) throws(RunStop) {
        for (name, probe) in probes {
            do { try probe.restore(state) } catch { throw .failed("cannot resume: \(error) (\(name) probe)") }
        }
    }
}
