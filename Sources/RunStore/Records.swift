/// The rows a run produces while it trains, collected in memory and written in one transaction.
public struct RecordBatch: Sendable {
    public struct Metric: Sendable, Equatable {
        public var name: String, step: Int, epoch: Double, value: Double, wallTime: Double
        public init(name: String, step: Int, epoch: Double, value: Double, wallTime: Double) {
            self.name = name; self.step = step; self.epoch = epoch; self.value = value; self.wallTime = wallTime
        }
    }

    public struct GradientNorm: Sendable, Equatable {
        public var step: Int, layer: Int, layerKind: String, tensor: String, l2: Double, maxAbs: Double
        public init(step: Int, layer: Int, layerKind: String, tensor: String, l2: Double, maxAbs: Double) {
            self.step = step; self.layer = layer; self.layerKind = layerKind; self.tensor = tensor; self.l2 = l2; self.maxAbs = maxAbs
        }
    }

    public struct GradientCheck: Sendable, Equatable {
        public var step: Int, layer: Int?, layerKind: String, tensor: String, entry: Int
        public var analytic: Double, numeric: Double, absoluteError: Double, relativeError: Double, outcome: String
        public init(step: Int, layer: Int?, layerKind: String, tensor: String, entry: Int, analytic: Double, numeric: Double,
                    absoluteError: Double, relativeError: Double, outcome: String) {
            self.step = step; self.layer = layer; self.layerKind = layerKind; self.tensor = tensor; self.entry = entry
            self.analytic = analytic; self.numeric = numeric; self.absoluteError = absoluteError
            self.relativeError = relativeError; self.outcome = outcome
        }
    }

    public struct Event: Sendable, Equatable {
        public var time: Double, kind: String, message: String
        public init(time: Double, kind: String, message: String) { self.time = time; self.kind = kind; self.message = message }
    }

    public var metrics: [Metric] = []
    public var gradientNorms: [GradientNorm] = []
    public var gradientChecks: [GradientCheck] = []
    public var events: [Event] = []

    public init() {}

    /// The first value that is NaN or infinite, described for a person (which value, step, layer,
    /// tensor); nil when every value can be stored. SQLite would store NaN as NULL, which the
    /// store's NOT NULL columns refuse, so such a batch is never written.
    public var firstNonFiniteValue: String? {
        metrics.lazy.compactMap(\.nonFiniteDescription).first
            ?? gradientNorms.lazy.compactMap(\.nonFiniteDescription).first
            ?? gradientChecks.lazy.compactMap(\.nonFiniteDescription).first
            ?? events.lazy.compactMap(\.nonFiniteDescription).first
    }

    /// Drops every row that holds a NaN or an infinity.
    public mutating func removeNonFiniteValues() {
        metrics.removeAll { $0.nonFiniteDescription != nil }
        gradientNorms.removeAll { $0.nonFiniteDescription != nil }
        gradientChecks.removeAll { $0.nonFiniteDescription != nil }
        events.removeAll { $0.nonFiniteDescription != nil }
    }

    public var isEmpty: Bool { metrics.isEmpty && gradientNorms.isEmpty && gradientChecks.isEmpty && events.isEmpty }
    public var count: Int { metrics.count + gradientNorms.count + gradientChecks.count + events.count }
}

/// How a non-finite value is named in messages: "NaN", "+inf" or "-inf".
public func nonFiniteName(_ value: Double) -> String { value.isNaN ? "NaN" : (value > 0 ? "+inf" : "-inf") }

extension RecordBatch.Metric {
    /// Which of this row's numbers is not finite, if any.
    public var nonFiniteDescription: String? {
        let at = "at step \(step) (epoch \(RecordBatch.epochText(epoch)))"
        if !value.isFinite { return "\(name) became \(nonFiniteName(value)) \(at)" }
        if !epoch.isFinite { return "the epoch of \(name) at step \(step) is \(nonFiniteName(epoch))" }
        if !wallTime.isFinite { return "the wall time of \(name) at step \(step) is \(nonFiniteName(wallTime))" }
        return nil
    }
}

extension RecordBatch.GradientNorm {
    public var nonFiniteDescription: String? {
        let at = "of layer \(layer) (\(layerKind)) \(tensor) at step \(step)"
        if !l2.isFinite { return "the gradient L2 norm \(at) became \(nonFiniteName(l2))" }
        if !maxAbs.isFinite { return "the gradient max-abs \(at) became \(nonFiniteName(maxAbs))" }
        return nil
    }
}

extension RecordBatch.GradientCheck {
    public var nonFiniteDescription: String? {
        let entry = "\(layer.map { "layer \($0) (\(layerKind)) " } ?? "the network ")\(tensor)[\(self.entry)]"
        for (name, value) in [("analytic gradient", analytic), ("numeric gradient", numeric),
                              ("absolute error", absoluteError), ("relative error", relativeError)] where !value.isFinite {
            return "the gradient check at step \(step) found a \(nonFiniteName(value)) \(name) for \(entry)"
        }
        return nil
    }
}

extension RecordBatch.Event {
    public var nonFiniteDescription: String? { time.isFinite ? nil : "the time of event \(kind) is \(nonFiniteName(time))" }
}

extension RecordBatch {
    static func epochText(_ epoch: Double) -> String {
        epoch == epoch.rounded() && abs(epoch) < 1e9 ? String(Int(epoch)) : String(epoch)
    }
}

/// What a new run row records about where and how it ran.
public struct RunProvenance: Sendable, Equatable {
    public var host: String, os: String, convlabVersion: String, swiftVersion: String, blas: String
    /// The full argv of the process, as a JSON array.
    public var commandLine: String?
    /// HEAD of the git repository the spec file lives in, and whether it had uncommitted changes
    /// to tracked files; nil outside a repository.
    public var gitCommit: String?, gitDirty: Bool?
    /// /proc/cpuinfo's "model name".
    public var cpuModel: String?

    public init(host: String, os: String, convlabVersion: String, swiftVersion: String, blas: String,
                commandLine: String? = nil, gitCommit: String? = nil, gitDirty: Bool? = nil, cpuModel: String? = nil) {
        self.host = host; self.os = os; self.convlabVersion = convlabVersion; self.swiftVersion = swiftVersion; self.blas = blas
        self.commandLine = commandLine; self.gitCommit = gitCommit; self.gitDirty = gitDirty; self.cpuModel = cpuModel
    }
}

/// Why a run failed, which decides whether a worker may claim it again.
public enum FailureKind: String, Sendable, CaseIterable {
    /// Its spec or data cannot train: trying again gives the same.
    case spec
    /// The process or the machine failed: worth another try.
    case crash
}

/// A new run, before it is inserted.
public struct NewRun: Sendable {
    public var experimentID: Int64, runIndex: Int, variant: String, variantLabel: String
    public var specJSON: String, specHash: String, seed: UInt64, epochsPlanned: Int
    public var provenance: RunProvenance
    public var params: [(key: String, text: String, real: Double?)]
    /// The run's UUID when it must be the same in every store that records it (a shard of a sweep
    /// run on several machines: `RunStore.merge` then recognises it); nil for a fresh random one.
    /// A UUID the store already holds (another experiment took it) is replaced by a random one.
    public var uuid: String?
    /// The search trial the run belongs to (1-based); nil for a matrix run.
    public var trial: Int?
    public init(experimentID: Int64, runIndex: Int, variant: String, variantLabel: String, specJSON: String, specHash: String,
                seed: UInt64, epochsPlanned: Int, provenance: RunProvenance, params: [(key: String, text: String, real: Double?)],
                uuid: String? = nil, trial: Int? = nil) {
        self.experimentID = experimentID; self.runIndex = runIndex; self.variant = variant; self.variantLabel = variantLabel
        self.specJSON = specJSON; self.specHash = specHash; self.seed = seed; self.epochsPlanned = epochsPlanned
        self.provenance = provenance; self.params = params; self.uuid = uuid; self.trial = trial
    }
}
