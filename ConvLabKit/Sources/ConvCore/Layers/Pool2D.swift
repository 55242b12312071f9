import ConvKernels

/// The sizes of a pooling layer: input (C, H, W), window, stride, padding.
public struct PoolingGeometry: Equatable, Sendable {
    public var channels, height, width: Int
    public var windowHeight, windowWidth: Int
    public var strideY, strideX: Int
    public var padY, padX: Int
    public var outputHeight: Int { (height + 2 * padY - windowHeight) / strideY + 1 }
    public var outputWidth: Int { (width + 2 * padX - windowWidth) / strideX + 1 }

    /// 2×2 windows with stride 2 and no padding: the case LeNet uses, with unrolled loops.
    var isNonOverlapping2x2: Bool {
        windowHeight == 2 && windowWidth == 2 && strideY == 2 && strideX == 2 && padY == 0 && padX == 0
    }

    /// The input rows (or columns) a window covers once clipped to the input.
    @inline(__always)
    func span(_ index: Int, stride: Int, pad: Int, window: Int, size: Int) -> Range<Int> {
        let start = index * stride - pad
        return max(start, 0)..<min(start + window, size)
    }
}

/// Pooling with any `PoolingRule`. No parameters; backward is the derivation's "upsample":
///
///     max: δ_prev[argmax(window)] += δ         (argmax recorded in forward; first maximum wins,
///                                              padded cells never win; a NaN wins, as in
///                                              PyTorch, so divergence reaches the loss)
///     avg: δ_prev[cell] += δ / |window ∩ input|  for every cell of the window
///     any other rule: δ_prev[cell] += δ · ∂y/∂x_cell, as the rule routes it
///
/// Overlapping windows (stride < size) accumulate: `+=`, never `=`. The built-in max and avg run
/// through fused plane kernels; any other rule through `WindowPooling`, a window at a time.
public final class Pool2D<T: EngineScalar>: Layer {

    public let kind = "pool"
    public let rule: any PoolingRule
    /// The built-in rule when it is one (the fused kernels), nil for any other rule.
    private let builtIn: PoolingMode?
    public let geometry: PoolingGeometry
    public let inputShape: Shape
    public let outputShape: Shape

    private let output = ScalarBuffer<T>(count: 0)          // (N, C, Ho, Wo)
    private let inputGradient = ScalarBuffer<T>(count: 0)   // (N, C, H, W)
    private var argmax: [Int32] = []                        // (N, C, Ho, Wo): index in the input plane (max)
    private var lastInput = UnsafeBufferPointer<T>(start: nil, count: 0)   // (N, C, H, W), other rules
    private var lastBatch = 0

    /// Max pooling in Float32 with stride 2 runs the vector kernel (ConvKernels/PoolingBody.h)
    /// with this instruction set; anything else the loops below.
    let isa: KernelISA
    let usesVectorKernel: Bool
    private let kernelScratch = ScalarBuffer<Float>(count: 0)   // one line per window row

    init(rule: any PoolingRule, geometry: PoolingGeometry, isa: KernelISA = .selected) {
        self.rule = rule
        builtIn = rule as? PoolingMode
        self.geometry = geometry
        self.isa = isa
        let g = geometry
        usesVectorKernel = T.self == Float.self && builtIn == .max && g.strideY == 2 && g.strideX == 2
            && (1...4).contains(g.windowHeight) && (1...4).contains(g.windowWidth) && g.padY < g.windowHeight && g.padX < g.windowWidth
        inputShape = Shape(channels: geometry.channels, height: geometry.height, width: geometry.width)
        outputShape = Shape(channels: geometry.channels, height: geometry.outputHeight, width: geometry.outputWidth)
    }

    public func replica() -> Pool2D<T> { Pool2D(rule: rule, geometry: geometry, isa: isa) }

    public var forwardFLOPsPerSample: Int { outputShape.count * geometry.windowHeight * geometry.windowWidth }

    public var kinkFingerprint: UInt64? {
        switch builtIn {
        case .max?: fingerprint(argmax)
        case .avg?: nil
        case nil: WindowPooling.branches(rule, geometry, input: lastInput, planes: lastBatch * geometry.channels).map(fingerprint)
        }
    }

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode _: PassMode) -> UnsafeBufferPointer<T> {
        let g = geometry
        let planes = batch * g.channels
        output.ensureCount(planes * g.outputHeight * g.outputWidth)
        switch builtIn {
        case .max?:
            if argmax.count != output.count { argmax = Array(repeating: 0, count: output.count) }
            argmax.withUnsafeMutableBufferPointer { argmax in
                if usesVectorKernel {
                    vectorMaxForward(input, planes: planes, argmax: argmax)
                } else {
                    PoolingKernels.maxForward(g, input: input, planes: planes, output: output.pointer, argmax: argmax)
                }
            }
        case .avg?:
            PoolingKernels.averageForward(g, input: input, planes: planes, output: output.pointer)
        case nil:
            (lastInput, lastBatch) = (input, batch)
            WindowPooling.forward(rule, g, input: input, planes: planes, output: output.pointer)
        }
        return output.readable
    }

    private func vectorMaxForward(_ input: UnsafeBufferPointer<T>, planes: Int, argmax: UnsafeMutableBufferPointer<Int32>) {
        let g = geometry
        let c = convlab_pool_geometry(height: Int32(g.height), width: Int32(g.width), outputHeight: Int32(g.outputHeight),
                                      outputWidth: Int32(g.outputWidth), windowHeight: Int32(g.windowHeight),
                                      windowWidth: Int32(g.windowWidth), padY: Int32(g.padY), padX: Int32(g.padX))
        kernelScratch.ensureCount(convlab_pool_line_count(c) * g.windowHeight)
        let x = UnsafeRawPointer(input.baseAddress!).assumingMemoryBound(to: Float.self)
        let y = UnsafeMutableRawPointer(output.pointer.baseAddress!).assumingMemoryBound(to: Float.self)
        convlab_max_pool_stride2(isa.c, c, x, Int32(planes), y, argmax.baseAddress!, kernelScratch.pointer.baseAddress!)
    }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        guard needsInputGradient else { return nil }
        let g = geometry
        let planes = batch * g.channels
        inputGradient.ensureCount(planes * g.height * g.width)
        switch builtIn {
        case .max?:
            argmax.withUnsafeBufferPointer { argmax in
                PoolingKernels.maxBackward(g, outputGradient: outputGradient, argmax: argmax, planes: planes, inputGradient: inputGradient.pointer)
            }
        case .avg?:
            PoolingKernels.averageBackward(g, outputGradient: outputGradient, planes: planes, inputGradient: inputGradient.pointer)
        case nil:
            WindowPooling.backward(rule, g, input: lastInput, output: output.readable, outputGradient: outputGradient, planes: planes,
                                   inputGradient: inputGradient.pointer)
        }
        return inputGradient.readable
    }

}

/// The pooling loops, one per direction and mode.
enum PoolingKernels {
    // MARK: max

    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func maxForward<T: EngineScalar>(_ g: PoolingGeometry, input: UnsafeBufferPointer<T>, planes: Int,
                           output: UnsafeMutableBufferPointer<T>, argmax: UnsafeMutableBufferPointer<Int32>) {
        // Locals, not the geometry's computed sizes: those divide on every use.
        let (outHeight, outWidth, width) = (g.outputHeight, g.outputWidth, g.width)
        let inPlane = g.height * width, outPlane = outHeight * outWidth
        if g.isNonOverlapping2x2 {
            // The common 2×2/2 case, unrolled: the same scan order and strict comparisons.
            for plane in 0..<planes {
                let x = input.baseAddress! + plane * inPlane
                let base = plane * outPlane
                for i in 0..<outHeight {
                    let top = 2 * i * width, bottom = top + width
                    for j in 0..<outWidth {
                        var bestIndex = top + 2 * j
                        var best = x[bestIndex]
                        @inline(__always) func consider(_ candidate: Int) {
                            let value = x[candidate]
                            if value > best { best = value; bestIndex = candidate }
                        }
                        consider(top + 2 * j + 1)
                        consider(bottom + 2 * j)
                        consider(bottom + 2 * j + 1)
                        // A NaN never wins a comparison (IEEE), so it is put in afterwards: the last
                        // NaN in scan order wins, as in PyTorch. Selects, not branches, so the loop
                        // over j still vectorises (NaN-aware comparisons or an `if` here made it
                        // 3–5× slower).
                        @inline(__always) func nanWins(_ cell: Int) {
                            let value = x[cell]
                            best = value.isNaN ? value : best
                            bestIndex = value.isNaN ? cell : bestIndex
                        }
                        nanWins(top + 2 * j)
                        nanWins(top + 2 * j + 1)
                        nanWins(bottom + 2 * j)
                        nanWins(bottom + 2 * j + 1)
                        output[base + i * outWidth + j] = best
                        argmax[base + i * outWidth + j] = Int32(bestIndex)
                    }
                }
            }
            return
        }
        for plane in 0..<planes {
            let x = input.baseAddress! + plane * inPlane
            for i in 0..<outHeight {
                let rows = g.span(i, stride: g.strideY, pad: g.padY, window: g.windowHeight, size: g.height)
                for j in 0..<outWidth {
                    let cols = g.span(j, stride: g.strideX, pad: g.padX, window: g.windowWidth, size: g.width)
                    var best = -T.infinity
                    var bestIndex = rows.lowerBound * width + cols.lowerBound
                    var nanIndex = -1
                    for r in rows {
                        let line = r * width
                        for c in cols {
                            let value = x[line + c]
                            let wins = value > best      // strict: the first maximum wins
                            best = wins ? value : best
                            bestIndex = wins ? line + c : bestIndex
                            nanIndex = value.isNaN ? line + c : nanIndex   // a NaN wins over all (the last one)
                        }
                    }
                    if nanIndex >= 0 { bestIndex = nanIndex }
                    let o = plane * outPlane + i * outWidth + j
                    output[o] = x[bestIndex]
                    argmax[o] = Int32(bestIndex)
                }
            }
        }
    }

    /// δ_prev[argmax] += δ: the error goes back to the cell that won, nowhere else.
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func maxBackward<T: EngineScalar>(_ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<T>, argmax: UnsafeBufferPointer<Int32>,
                            planes: Int, inputGradient: UnsafeMutableBufferPointer<T>) {
        // Locals, not the geometry's computed sizes: those divide on every use.
        let (outHeight, outWidth, width) = (g.outputHeight, g.outputWidth, g.width)
        let inPlane = g.height * width, outPlane = outHeight * outWidth
        inputGradient.update(repeating: 0)
        for plane in 0..<planes {
            let dx = inputGradient.baseAddress! + plane * inPlane
            for o in (plane * outPlane)..<((plane + 1) * outPlane) {
                dx[Int(argmax[o])] += outputGradient[o]
            }
        }
    }

    // MARK: average

    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func averageForward<T: EngineScalar>(_ g: PoolingGeometry, input: UnsafeBufferPointer<T>, planes: Int, output: UnsafeMutableBufferPointer<T>) {
        // Locals, not the geometry's computed sizes: those divide on every use.
        let (outHeight, outWidth, width) = (g.outputHeight, g.outputWidth, g.width)
        let inPlane = g.height * width, outPlane = outHeight * outWidth
        if g.isNonOverlapping2x2 {
            // The common 2×2/2 case: every window lies inside the input, the divisor is 4.
            for plane in 0..<planes {
                let x = input.baseAddress! + plane * inPlane
                let base = plane * outPlane
                for i in 0..<outHeight {
                    let top = x + 2 * i * width, bottom = top + width
                    for j in 0..<outWidth {
                        output[base + i * outWidth + j] = (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]) / 4
                    }
                }
            }
            return
        }
        for plane in 0..<planes {
            let x = input.baseAddress! + plane * inPlane
            for i in 0..<outHeight {
                let rows = g.span(i, stride: g.strideY, pad: g.padY, window: g.windowHeight, size: g.height)
                for j in 0..<outWidth {
                    let cols = g.span(j, stride: g.strideX, pad: g.padX, window: g.windowWidth, size: g.width)
                    var sum: T = 0
                    for r in rows { for c in cols { sum += x[r * width + c] } }
                    output[plane * outPlane + i * outWidth + j] = sum / T(rows.count * cols.count)
                }
            }
        }
    }

    /// δ_prev[cell] += δ / |window ∩ input| for every cell of each window.
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func averageBackward<T: EngineScalar>(_ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<T>, planes: Int,
                                inputGradient: UnsafeMutableBufferPointer<T>) {
        // Locals, not the geometry's computed sizes: those divide on every use.
        let (outHeight, outWidth, width) = (g.outputHeight, g.outputWidth, g.width)
        let inPlane = g.height * width, outPlane = outHeight * outWidth
        inputGradient.update(repeating: 0)
        if g.isNonOverlapping2x2 {
            for plane in 0..<planes {
                let dx = inputGradient.baseAddress! + plane * inPlane
                let base = plane * outPlane
                for i in 0..<outHeight {
                    let top = dx + 2 * i * width, bottom = top + width
                    for j in 0..<outWidth {
                        let share = outputGradient[base + i * outWidth + j] / 4
                        top[2 * j] = share; top[2 * j + 1] = share; bottom[2 * j] = share; bottom[2 * j + 1] = share
                    }
                }
            }
            return
        }
        for plane in 0..<planes {
            let dx = inputGradient.baseAddress! + plane * inPlane
            for i in 0..<outHeight {
                let rows = g.span(i, stride: g.strideY, pad: g.padY, window: g.windowHeight, size: g.height)
                for j in 0..<outWidth {
                    let cols = g.span(j, stride: g.strideX, pad: g.padX, window: g.windowWidth, size: g.width)
                    let share = outputGradient[plane * outPlane + i * outWidth + j] / T(rows.count * cols.count)
                    for r in rows { for c in cols { dx[r * width + c] += share } }
                }
            }
        }
    }
}

// MARK: - Configuration

/// `pool`: mode (max/avg, default: the model's), size, stride (default: size), padding.
public struct Pool2DConfiguration: LayerConfiguration {
    public var rule: any PoolingRule
    public var size: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: (height: Int, width: Int)

    public init(rule: any PoolingRule, size: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.rule = rule
        self.size = size
        self.stride = stride ?? size
        self.padding = padding
    }

    public init(mode: PoolingMode, size: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.init(rule: mode, size: size, stride: stride, padding: padding)
    }

    public var kind: String { "pool" }

    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        guard input.isSpatial else { throw context.error(kind, input, .needsSpatialInput) }
        guard size.height > 0, size.width > 0, stride.height > 0, stride.width > 0, padding.height >= 0, padding.width >= 0 else {
            throw context.error(kind, input, .invalidParameter("size and stride must be positive, padding not negative"))
        }
        guard 2 * padding.height <= size.height, 2 * padding.width <= size.width else {
            throw context.error(kind, input, .paddingTooLarge(padding: [padding.height, padding.width], window: [size.height, size.width]))
        }
        let padded = [input.height + 2 * padding.height, input.width + 2 * padding.width]
        guard size.height <= padded[0], size.width <= padded[1] else {
            throw context.error(kind, input, .windowDoesNotFit(window: [size.height, size.width], paddedInput: padded))
        }
        return Pool2D<S>(rule: rule, geometry: .init(
            channels: input.channels, height: input.height, width: input.width,
            windowHeight: size.height, windowWidth: size.width, strideY: stride.height, strideX: stride.width,
            padY: padding.height, padX: padding.width))
    }
}
