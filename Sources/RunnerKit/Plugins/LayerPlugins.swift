import ConvLabKit
import ConvCore

/// The layers a spec's `model.layers` may use, each `{ "<name>": { parameters } }`.
enum LayerPlugins {
    static let conv: Plugin = Plugin(.layer, "conv", "2-D convolution (cross-correlation), im2col + BLAS or the plain-loop reference", parameters: [
        .init("filters", .integer(minimum: 1, maximum: 65_536), default: .required, "output channels"),
        .init("kernel", .size(), default: .required, "kernel size: k or [kh, kw]"),
        .init("stride", .size(), default: .int(1), "stride: s or [sh, sw]"),
        .init("padding", .padding, default: .int(0), "zero padding: p, [ph, pw], \"same\" (odd kernels) or \"valid\""),
        .init("bias", .boolean, default: .bool(true), "add a learned bias per filter"),
        .init("algorithm", .choice(ConvolutionAlgorithm.allCases.map(\.rawValue)), default: .string("im2col"),
              "im2col (fast) or reference (the derivation's loops, for checking)"),
    ], factory: .layer { p throws(PluginError) in
        let padding: Conv2DConfiguration.Padding
        switch p["padding"] {
        case .string("same")?: padding = .same
        case .string("valid")?: padding = .valid
        default: let (h, w) = p.pair("padding", default: (0, 0)); padding = .explicit(height: h, width: w)
        }
        return Conv2DConfiguration(filters: p.int("filters"), kernel: p.pair("kernel"), stride: p.pair("stride"),
                                   padding: padding, bias: p.bool("bias", default: true),
                                   algorithm: ConvolutionAlgorithm(rawValue: p.string("algorithm")) ?? .im2col)
    })

    static let pool: Plugin = Plugin(.layer, "pool", "pooling with any pooling rule (max, avg, or a plugin's); backward upsamples the error", parameters: [
        .init("mode", .plugin(.pooling), default: .inherited("model.pooling"), "the pooling rule: max, avg or a plugin's (default: the model's)"),
        .init("size", .size(), default: .int(2), "window: k or [kh, kw]"),
        .init("stride", .size(), default: .optional, "stride (default: the window size)"),
        .init("padding", .size(minimum: 0), default: .int(0), "padding, at most half the window; padded cells never win a max and are not counted in an average"),
    ], factory: .layer { p throws(PluginError) in
        let size = p.pair("size", default: (2, 2))
        return Pool2DConfiguration(rule: try p.pooling("mode"), size: size, stride: p["stride"] == nil ? nil : p.pair("stride"),
                                   padding: p.pair("padding", default: (0, 0)))
    })

    static let dense: Plugin = Plugin(.layer, "dense", "fully connected layer", parameters: [
        .init("units", .integer(minimum: 1, maximum: 1_000_000), default: .required, "output size"),
        .init("bias", .boolean, default: .bool(true), "add a learned bias"),
        .init("inputs", .integer(minimum: 1, maximum: 1_000_000_000), default: .optional, "expected input size, checked when the network is built"),
    ], factory: .layer { p throws(PluginError) in
        DenseConfiguration(units: p.int("units"), bias: p.bool("bias", default: true), expectedInputs: p.optionalInt("inputs"))
    })

    static let activationLayer: Plugin = Plugin(.layer, "activation", "element-wise activation σ; backward multiplies by σ'(z)", parameters: [
        .init("function", .plugin(.activation), default: .inherited("model.activation"), "relu, tanh, ... (default: the model's)"),
    ], factory: .layer { p throws(PluginError) in ActivationConfiguration(try p.activation("function")) })

    static let flatten: Plugin = Plugin(.layer, "flatten", "(C, H, W) → (C·H·W)", factory: .layer { _ throws(PluginError) in FlattenConfiguration() })

    static let dropout: Plugin = Plugin(.layer, "dropout", "inverted dropout in training, identity in evaluation", parameters: [
        .init("rate", .number(minimum: 0, maximum: 1, exclusiveMaximum: true), default: .number(0.5), "probability of dropping a unit"),
    ], factory: .layer { p throws(PluginError) in DropoutConfiguration(rate: p.double("rate", default: 0.5)) })

    static let all = [conv, pool, dense, activationLayer, flatten, dropout]
}
