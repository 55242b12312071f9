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

    public var isEmpty: Bool { metrics.isEmpty && gradientNorms.isEmpty && gradientChecks.isEmpty && events.isEmpty }
    public var count: Int { metrics.count + gradientNorms.count + gradientChecks.count + events.count }
}

/// The status of a run, as stored.
public enum RunStatus: String, Sendable, CaseIterable {
    case queued, running, completed, failed, interrupted, diverged
}

/// What a new run row records about where and how it ran.
public struct RunProvenance: Sendable {
    public var host: String, os: String, convlabVersion: String, swiftVersion: String, blas: String
    public init(host: String, os: String, convlabVersion: String, swiftVersion: String, blas: String) {
        self.host = host; self.os = os; self.convlabVersion = convlabVersion; self.swiftVersion = swiftVersion; self.blas = blas
    }
}

/// A new run, before it is inserted.
public struct NewRun: Sendable {
    public var experimentID: Int64, runIndex: Int, variant: String, variantLabel: String
    public var specJSON: String, specHash: String, seed: UInt64, epochsPlanned: Int
    public var provenance: RunProvenance
    public var params: [(key: String, text: String, real: Double?)]
    public init(experimentID: Int64, runIndex: Int, variant: String, variantLabel: String, specJSON: String, specHash: String,
                seed: UInt64, epochsPlanned: Int, provenance: RunProvenance, params: [(key: String, text: String, real: Double?)]) {
        self.experimentID = experimentID; self.runIndex = runIndex; self.variant = variant; self.variantLabel = variantLabel
        self.specJSON = specJSON; self.specHash = specHash; self.seed = seed; self.epochsPlanned = epochsPlanned
        self.provenance = provenance; self.params = params
    }
}
