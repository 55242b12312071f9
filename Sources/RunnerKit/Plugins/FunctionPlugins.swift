import ConvLabKit
import ConvCore

/// Activations, pooling modes, initialisers, losses, optimizers and schedules.
enum FunctionPlugins {
    static let activations: [Plugin] = [
        Plugin(.activation, "relu", "max(0, z)", factory: .activation { _ in ActivationFunction.relu }),
        Plugin(.activation, "leaky_relu", "z for z > 0, slope·z otherwise", parameters: [
            .init("slope", .number(minimum: 0, maximum: 1), default: .number(0.01), "slope for z ≤ 0"),
        ], factory: .activation { ActivationFunction.leakyReLU(slope: $0.double("slope", default: 0.01)) }),
        Plugin(.activation, "sigmoid", "1 / (1 + e^−z)", factory: .activation { _ in ActivationFunction.sigmoid }),
        Plugin(.activation, "tanh", "hyperbolic tangent", factory: .activation { _ in ActivationFunction.tanh }),
        Plugin(.activation, "elu", "z for z > 0, α(e^z − 1) otherwise", parameters: [
            .init("alpha", .number(minimum: 0), default: .number(1), "α"),
        ], factory: .activation { ActivationFunction.elu(alpha: $0.double("alpha", default: 1)) }),
        Plugin(.activation, "identity", "z (no activation)", factory: .activation { _ in ActivationFunction.identity }),
    ]

    static let pooling: [Plugin] = [
        Plugin(.pooling, "max", "the largest value of each window; ties go to the first", factory: .pooling { _ in PoolingMode.max }),
        Plugin(.pooling, "avg", "the mean of each window's cells inside the input", factory: .pooling { _ in PoolingMode.avg }),
    ]

    static let initializers: [Plugin] = Initializer.allCases.map { initializer in
        let summary = switch initializer {
        case .heUniform: "U(±√(6/fan_in)) — for ReLU networks"
        case .heNormal: "N(0, 2/fan_in)"
        case .xavierUniform: "U(±√(6/(fan_in + fan_out))) — for tanh/sigmoid networks"
        case .xavierNormal: "N(0, 2/(fan_in + fan_out))"
        }
        return Plugin(.initializer, initializer.rawValue, summary, factory: .initializer { _ in initializer })
    }

    static let losses: [Plugin] = [
        Plugin(.loss, "softmax_cross_entropy", "softmax and cross-entropy, fused and numerically stable",
               factory: .loss { _ in SoftmaxCrossEntropy() }),
        Plugin(.loss, "mse", "mean squared error against the one-hot label", factory: .loss { _ in MeanSquaredError() }),
    ]

    static let learningRate = ParameterDeclaration("learning_rate", .number(minimum: 0, exclusiveMinimum: true), default: .number(0.01), "step size η")
    static let weightDecay = ParameterDeclaration("weight_decay", .number(minimum: 0), default: .number(0), "L2 penalty λ added to the gradient")
    static let schedule = ParameterDeclaration("schedule", .plugin(.schedule), default: .string("constant"), "how η changes during training")

    static let optimizers: [Plugin] = [
        Plugin(.optimizer, "sgd", "stochastic gradient descent, optionally with (Nesterov) momentum", parameters: [
            learningRate,
            .init("momentum", .number(minimum: 0, maximum: 1, exclusiveMaximum: true), default: .number(0), "μ (0: plain SGD)"),
            .init("nesterov", .boolean, default: .bool(false), "Nesterov momentum"),
            weightDecay, schedule,
        ], factory: .optimizer { p in
            OptimizerConfiguration.sgd(momentum: p.double("momentum"), nesterov: p.bool("nesterov"), weightDecay: p.double("weight_decay"))
        }),
        Plugin(.optimizer, "adam", "Adam with bias correction", parameters: [
            ParameterDeclaration("learning_rate", .number(minimum: 0, exclusiveMinimum: true), default: .number(0.001), "step size η"),
            .init("beta1", .number(minimum: 0, maximum: 1, exclusiveMaximum: true), default: .number(0.9), "β₁"),
            .init("beta2", .number(minimum: 0, maximum: 1, exclusiveMaximum: true), default: .number(0.999), "β₂"),
            .init("epsilon", .number(minimum: 0, exclusiveMinimum: true), default: .number(1e-8), "ε"),
            weightDecay, schedule,
        ], factory: .optimizer { p in
            OptimizerConfiguration.adam(beta1: p.double("beta1", default: 0.9), beta2: p.double("beta2", default: 0.999),
                  epsilon: p.double("epsilon", default: 1e-8), weightDecay: p.double("weight_decay"))
        }),
    ]

    static let schedules: [Plugin] = [
        Plugin(.schedule, "constant", "η throughout", factory: .schedule { _ in LearningRateSchedule.constant }),
        Plugin(.schedule, "step", "η·γ^⌊epoch/every_epochs⌋", parameters: [
            .init("every_epochs", .integer(minimum: 1), default: .int(1), "epochs between decays"),
            .init("gamma", .number(minimum: 0, maximum: 1), default: .number(0.1), "decay factor γ"),
        ], factory: .schedule { LearningRateSchedule.step(everyEpochs: $0.int("every_epochs", default: 1), gamma: $0.double("gamma", default: 0.1)) }),
        Plugin(.schedule, "cosine", "cosine decay from η to minimum over all steps", parameters: [
            .init("minimum", .number(minimum: 0), default: .number(0), "final learning rate"),
        ], factory: .schedule { LearningRateSchedule.cosine(minimum: $0.double("minimum")) }),
    ]

    static let probes: [Plugin] = [LossProbe.plugin, GradientNormProbe.plugin, GradientCheckProbe.plugin]
}
