import ConvKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two-dimensional convolution (cross-correlation, the deep-learning convention: no kernel flip).
///
///     forward:  z[n,o] = Σ_c corr(pad_p(a[n,c]), W[o,c]) + b[o]
///     backward: δ_prev = crop_p(full_corr(pad(dilate_s(δ), k−1, k−1+r), rot180(W)))   (input error)
///               dW[o,c] = valid_corr(pad_p(a[c]), dilate_s(δ[o]))   trimmed to k×k, Σ over n
///               db[o]  = Σ δ[o]
///
/// Two algorithms compute the same thing. `.reference` spells the formulas out with plain loops
/// (Conv2DReference.swift). `.im2col` (the default) unrolls every receptive field into a column
/// and turns all three formulas into matrix products:
///
///     cols = im2col(pad_p(a))              (K, N·P)   K = C·kh·kw, P = Ho·Wo
///     Z    = W · cols                      (M, N·P)   — the forward correlation
///     dW   = δ · colsᵀ                     (M, K)     — valid correlation with the error
///     δ_prev = col2im(Wᵀ · δ)              (N, C, H, W)
///
/// col2im adds column entry (c,a,b; n,i,j) into input pixel (i·s−p+a, j·s−p+b): gathering those
/// contributions per pixel is exactly the full correlation of the dilated, padded error with
/// rot180(W), which tests hold equal to the reference.
/// The sizes of a convolution: input (C, H, W), M filters of kh×kw, stride, padding.
public struct ConvolutionGeometry: Equatable, Sendable {
    public var channels, height, width: Int            // input (C, H, W)
    public var filters: Int                             // M
    public var kernelHeight, kernelWidth: Int
    public var strideY, strideX: Int
    public var padY, padX: Int
    public var outputHeight: Int { (height + 2 * padY - kernelHeight) / strideY + 1 }
    public var outputWidth: Int { (width + 2 * padX - kernelWidth) / strideX + 1 }
    public var patchSize: Int { channels * kernelHeight * kernelWidth }   // K
    public var outputPlane: Int { outputHeight * outputWidth }            // P
    public var inputSize: Int { channels * height * width }               // one sample's C·H·W
}

/// How a convolution is computed; both give the same numbers up to rounding.
public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
    /// Unrolled patches and BLAS matrix products: the fast path.
    case im2col
    /// The derivation's formulas as plain loops: the reference the fast path is tested against.
    case reference
}

public final class Conv2D<T: EngineScalar>: Layer {

    public let kind = "conv"
    public let geometry: ConvolutionGeometry
    public let algorithm: ConvolutionAlgorithm
    public let inputShape: Shape
    public let outputShape: Shape
    public let weight: Parameter<T>                 // (M, C, kh, kw)
    public let bias: Parameter<T>?                  // (M)
    public let parameters: [Parameter<T>]
    public let gradients: [ScalarBuffer<T>]
    private let weightGradient: ScalarBuffer<T>     // (M, C, kh, kw)
    private let biasGradient: ScalarBuffer<T>?      // (M)

    private let output = ScalarBuffer<T>(count: 0)          // (N, M, Ho, Wo)
    private let inputGradient = ScalarBuffer<T>(count: 0)   // (N, C, H, W)
    let columns = ScalarBuffer<T>(count: 0)                 // chunks of (K, c·P), one after the other (training)
    private let matrixScratch = ScalarBuffer<T>(count: 0)   // (M, c·P): one chunk's Z or δ
    private let partialBias = ScalarBuffer<T>(count: 0)     // (M): one chunk's Σ δ
    private var lastInput = UnsafeBufferPointer<T>(start: nil, count: 0)   // (N, C, H, W)
    private var lastMode = PassMode.training

    init(geometry: ConvolutionGeometry, weight: Parameter<T>, bias: Parameter<T>?, algorithm: ConvolutionAlgorithm,
         chunkBytes: Int = Conv2D.defaultChunkBytes, fastPath: FastConvolution? = nil, isa: KernelISA = .selected) {
        self.geometry = geometry
        self.algorithm = algorithm
        self.chunkBytes = chunkBytes
        self.isa = isa
        self.fastPath = Self.choose(geometry, algorithm: algorithm, requested: fastPath)
        directGeometry = DirectConvolution.Geometry(
            channels: geometry.channels, height: geometry.height, width: geometry.width, filters: geometry.filters,
            kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth, padY: geometry.padY, padX: geometry.padX)
        chunkSize = max(1, chunkBytes / (MemoryLayout<T>.stride * geometry.patchSize * geometry.outputPlane))
        self.inputShape = Shape(channels: geometry.channels, height: geometry.height, width: geometry.width)
        self.outputShape = Shape(channels: geometry.filters, height: geometry.outputHeight, width: geometry.outputWidth)
        self.weight = weight
        self.bias = bias
        self.parameters = [weight] + (bias.map { [$0] } ?? [])
        weightGradient = ScalarBuffer(count: weight.count)
        biasGradient = bias.map { ScalarBuffer(count: $0.count) }
        gradients = [weightGradient] + (biasGradient.map { [$0] } ?? [])
    }

    public func replica() -> Conv2D<T> {
        Conv2D(geometry: geometry, weight: weight, bias: bias, algorithm: algorithm, chunkBytes: chunkBytes, fastPath: fastPath, isa: isa)
    }

    // MARK: direct kernels

    /// How the fast path (`.im2col`) computes, in Float32:
    /// - `.direct` (Kernels/DirectConvolution.swift): stride 1, padding at most k − 1 (so that the
    ///   input error is the same kernel on the padded error), at most `directMaximumChannels`
    ///   input channels, where a GEMM's inner dimension C·kh·kw is too short for BLAS;
    /// - `.winograd` (Kernels/WinogradConvolution.swift): 3×3, stride 1, padding at most 2;
    /// - `.gemm`: im2col and BLAS, everything else, and always in Float64.
    enum FastConvolution: Sendable { case direct, winograd, gemm }

    let fastPath: FastConvolution
    /// The instruction set of the direct and Winograd kernels.
    let isa: KernelISA
    var usesDirectKernels: Bool { fastPath == .direct }
    static var directMaximumChannels: Int { 3 }

    /// `CONVLAB_WINOGRAD=0` turns the Winograd kernels off (for side-by-side measurements).
    static var winogradEnabled: Bool { getenv("CONVLAB_WINOGRAD").map { String(cString: $0) != "0" } ?? true }

    static func choose(_ g: ConvolutionGeometry, algorithm: ConvolutionAlgorithm, requested: FastConvolution?) -> FastConvolution {
        guard algorithm == .im2col, T.self == Float.self else { return .gemm }
        let directPossible = g.strideY == 1 && g.strideX == 1 && g.padY <= g.kernelHeight - 1 && g.padX <= g.kernelWidth - 1
        let winogradPossible = WinogradConvolution.applies(to: g)
        switch requested {
        case .direct?: return directPossible ? .direct : .gemm
        case .winograd?: return winogradPossible ? .winograd : .gemm
        case .gemm?: return .gemm
        case nil:
            if directPossible && g.channels <= directMaximumChannels { return .direct }
            return winogradPossible && winogradEnabled ? .winograd : .gemm
        }
    }
    let directGeometry: DirectConvolution.Geometry
    private let packedWeights = ScalarBuffer<T>(count: 0)      // forward: (group, c, a, b, 4)
    private let packedRotated = ScalarBuffer<T>(count: 0)      // input error: rot180(W), o and c swapped
    private let paddedScratch = ScalarBuffer<T>(count: 0)      // one sample's padded planes
    private let paddedDelta = ScalarBuffer<T>(count: 0)        // δ with rows rounded to whole vectors

    @inline(__always)
    private func floats(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    @inline(__always)
    private func floats(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    private func directForward(_ input: UnsafeBufferPointer<T>, batch: Int) {
        let d = directGeometry, g = geometry
        let w = floats(weight.value.readable.baseAddress!)
        packedWeights.ensureCount(d.packedCount)
        DirectConvolution.pack(d, into: floats(packedWeights.pointer.baseAddress!)) { o, c, a, b in
            w[((o * g.channels + c) * g.kernelHeight + a) * g.kernelWidth + b]
        }
        paddedScratch.ensureCount(g.channels * d.paddedPlane)
        DirectConvolution.forward(d, input: floats(input.baseAddress!), batch: batch, packed: floats(packedWeights.readable.baseAddress!),
                                  bias: bias.map { floats($0.value.readable.baseAddress!) }, output: floats(output.pointer.baseAddress!),
                                  scratch: floats(paddedScratch.pointer.baseAddress!))
    }

    private func directBackward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) {
        let d = directGeometry, g = geometry
        paddedScratch.ensureCount(max(batch * g.channels * d.paddedPlane, g.filters * d.paddedPlane))
        paddedDelta.ensureCount(batch * g.filters * d.outputHeight * d.roundedWidth)
        DirectConvolution.weightGradient(d, input: floats(lastInput.baseAddress!), outputGradient: floats(outputGradient.baseAddress!),
                                         batch: batch, weightGradient: floats(weightGradient.pointer.baseAddress!),
                                         biasGradient: biasGradient.map { floats($0.pointer.baseAddress!) },
                                         paddedInput: floats(paddedScratch.pointer.baseAddress!),
                                         paddedDelta: floats(paddedDelta.pointer.baseAddress!))
        guard needsInputGradient else { return }
        // δ_prev = full_corr(pad(δ, k−1−p), rot180(W)), output and input channels swapped.
        let back = DirectConvolution.Geometry(
            channels: g.filters, height: d.outputHeight, width: d.outputWidth, filters: g.channels,
            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
            padY: g.kernelHeight - 1 - g.padY, padX: g.kernelWidth - 1 - g.padX)
        let w = floats(weight.value.readable.baseAddress!)
        packedRotated.ensureCount(back.packedCount)
        DirectConvolution.pack(back, into: floats(packedRotated.pointer.baseAddress!)) { c, o, a, b in
            w[((o * g.channels + c) * g.kernelHeight + (g.kernelHeight - 1 - a)) * g.kernelWidth + (g.kernelWidth - 1 - b)]
        }
        paddedScratch.ensureCount(max(paddedScratch.count, g.filters * back.paddedPlane))
        DirectConvolution.forward(back, input: floats(outputGradient.baseAddress!), batch: batch,
                                  packed: floats(packedRotated.readable.baseAddress!), bias: nil,
                                  output: floats(inputGradient.pointer.baseAddress!), scratch: floats(paddedScratch.pointer.baseAddress!))
    }

    // MARK: Winograd kernels

    private let winogradWeights = ScalarBuffer<T>(count: 0)   // forward: U (16, C, K rounded to 4)
    private let winogradRotated = ScalarBuffer<T>(count: 0)   // input error: U of rot180(W), (16, K, C rounded to 4)
    private let winogradScratch = ScalarBuffer<T>(count: 0)   // one block's V, M (or D) and rows

    private func winogradForward(_ input: UnsafeBufferPointer<T>, batch: Int) {
        let w = WinogradConvolution.geometry(geometry)
        winogradWeights.ensureCount(convlab_winograd_weights_count(w))
        convlab_winograd_transform_weights(w, floats(weight.value.readable.baseAddress!), 0, floats(winogradWeights.pointer.baseAddress!))
        winogradScratch.ensureCount(convlab_winograd_forward_scratch_count(w))
        convlab_winograd_forward(isa.c, w, floats(input.baseAddress!), Int32(batch), floats(winogradWeights.readable.baseAddress!),
                                 bias.map { floats($0.value.readable.baseAddress!) }, floats(output.pointer.baseAddress!),
                                 floats(winogradScratch.pointer.baseAddress!))
    }

    private func winogradBackward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) {
        let g = geometry, w = WinogradConvolution.geometry(g)
        winogradScratch.ensureCount(convlab_winograd_weight_gradient_scratch_count(w))
        convlab_winograd_weight_gradient(isa.c, w, floats(lastInput.baseAddress!), floats(outputGradient.baseAddress!), Int32(batch),
                                         floats(weightGradient.pointer.baseAddress!), floats(winogradScratch.pointer.baseAddress!))
        if let biasGradient {
            // db[o] = Σ_n Σ_ij δ[n,o,i,j]: per sample the rows of a (K, P) matrix.
            biasGradient.fill(0)
            partialBias.ensureCount(g.filters)
            for n in 0..<batch {
                sumRows(UnsafeBufferPointer(rebasing: outputGradient[(n * g.filters * g.outputPlane)...]), rows: g.filters,
                        columns: g.outputPlane, into: partialBias.pointer)
                addInPlace(biasGradient.pointer, partialBias.readable)
            }
        }
        guard needsInputGradient else { return }
        // δ_prev = full_corr(pad(δ, 2 − p), rot180(W)), output and input channels swapped.
        let back = WinogradConvolution.backwardGeometry(g)
        winogradRotated.ensureCount(convlab_winograd_weights_count(back))
        convlab_winograd_transform_weights(w, floats(weight.value.readable.baseAddress!), 1, floats(winogradRotated.pointer.baseAddress!))
        winogradScratch.ensureCount(max(winogradScratch.count, convlab_winograd_forward_scratch_count(back)))
        convlab_winograd_forward(isa.c, back, floats(outputGradient.baseAddress!), Int32(batch), floats(winogradRotated.readable.baseAddress!),
                                 nil, floats(inputGradient.pointer.baseAddress!), floats(winogradScratch.pointer.baseAddress!))
    }

    public var forwardFLOPsPerSample: Int { 2 * geometry.filters * geometry.patchSize * geometry.outputPlane }

    /// Samples unrolled and multiplied at a time: enough for the GEMMs to run well, few enough
    /// that a chunk's patch matrix (K, c·P) stays in the core's cache between im2col, the GEMMs
    /// and col2im. (Tests pass a smaller `chunkBytes` to cut small batches into several chunks.)
    let chunkSize: Int
    let chunkBytes: Int
    static var defaultChunkBytes: Int { 256 * 1024 }

    func chunks(_ batch: Int) -> [Range<Int>] {
        stride(from: 0, to: batch, by: chunkSize).map { $0..<min($0 + chunkSize, batch) }
    }

    // MARK: forward

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        lastInput = input
        lastMode = mode
        let g = geometry
        output.ensureCount(batch * g.filters * g.outputPlane)
        switch algorithm {
        case .reference:
            Conv2DReference.forward(g, input: input, weight: weight.value.readable, bias: bias?.value.readable,
                                    batch: batch, output: output.pointer)
        case .im2col where fastPath == .direct:
            directForward(input, batch: batch)
        case .im2col where fastPath == .winograd:
            winogradForward(input, batch: batch)
        case .im2col:
            // Training keeps every chunk's patch matrix for backward; evaluation needs one chunk's
            // at a time, so it reuses the first (and never grows the buffer past a chunk).
            let keepsColumns = mode == .training
            columns.ensureCount(g.patchSize * (keepsColumns ? batch : min(batch, chunkSize)) * g.outputPlane)
            matrixScratch.ensureCount(g.filters * min(batch, chunkSize) * g.outputPlane)
            for chunk in chunks(batch) {
                let count = chunk.count, columnCount = count * g.outputPlane
                let cols = columns.pointer.baseAddress! + (keepsColumns ? chunk.lowerBound * g.patchSize * g.outputPlane : 0)   // (K, c·P)
                im2col(g, input: UnsafeBufferPointer(rebasing: input[(chunk.lowerBound * g.inputSize)...]), batch: count,
                       columns: UnsafeMutableBufferPointer(start: cols, count: g.patchSize * columnCount))
                // Z (M, c·P) = W (M, K) · cols (K, c·P)
                T.gemm(transposeA: false, transposeB: false, m: g.filters, n: columnCount, k: g.patchSize,
                       alpha: 1, a: weight.value.readable.baseAddress!, lda: g.patchSize, b: cols, ldb: columnCount,
                       beta: 0, c: matrixScratch.pointer.baseAddress!, ldc: columnCount)
                channelMajorToBatchMajor(matrixScratch.readable, bias: bias?.value.readable, batch: count, channels: g.filters,
                                         plane: g.outputPlane,
                                         into: UnsafeMutableBufferPointer(rebasing: output.pointer[(chunk.lowerBound * g.filters * g.outputPlane)...]))
            }
        }
        return output.readable
    }

    // MARK: backward

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        let g = geometry
        precondition(algorithm == .reference || lastMode == .training, "Conv2D.backward needs a forward pass in training mode first")
        if needsInputGradient { inputGradient.ensureCount(batch * g.channels * g.height * g.width) }
        switch algorithm {
        case .reference:
            Conv2DReference.backward(g, input: lastInput, weight: weight.value.readable, outputGradient: outputGradient,
                                     batch: batch, weightGradient: weightGradient.pointer,
                                     biasGradient: biasGradient?.pointer,
                                     inputGradient: needsInputGradient ? inputGradient.pointer : nil)
        case .im2col where fastPath == .direct:
            directBackward(outputGradient, batch: batch, needsInputGradient: needsInputGradient)
        case .im2col where fastPath == .winograd:
            winogradBackward(outputGradient, batch: batch, needsInputGradient: needsInputGradient)
        case .im2col:
            biasGradient?.fill(0)
            partialBias.ensureCount(biasGradient == nil ? 0 : g.filters)
            for chunk in chunks(batch) {
                let count = chunk.count, columnCount = count * g.outputPlane
                let cols = columns.pointer.baseAddress! + chunk.lowerBound * g.patchSize * g.outputPlane   // (K, c·P)
                // δ (c, M, P) → (M, c·P), the layout of Z.
                batchMajorToChannelMajor(UnsafeBufferPointer(rebasing: outputGradient[(chunk.lowerBound * g.filters * g.outputPlane)...]),
                                         batch: count, channels: g.filters, plane: g.outputPlane, into: matrixScratch.pointer)
                let delta = matrixScratch.readable.baseAddress!
                // dW (M, K) (+)= δ (M, c·P) · colsᵀ (c·P, K), summed over the chunks
                T.gemm(transposeA: false, transposeB: true, m: g.filters, n: g.patchSize, k: columnCount,
                       alpha: 1, a: delta, lda: columnCount, b: cols, ldb: columnCount,
                       beta: chunk.lowerBound == 0 ? 0 : 1, c: weightGradient.pointer.baseAddress!, ldc: g.patchSize)
                if let biasGradient {
                    sumRows(UnsafeBufferPointer(start: delta, count: g.filters * columnCount), rows: g.filters, columns: columnCount,
                            into: partialBias.pointer)
                    addInPlace(biasGradient.pointer, partialBias.readable)
                }
                if needsInputGradient {
                    // dCols (K, c·P) = Wᵀ (K, M) · δ (M, c·P), written over this chunk's cols (no longer needed).
                    T.gemm(transposeA: true, transposeB: false, m: g.patchSize, n: columnCount, k: g.filters,
                           alpha: 1, a: weight.value.readable.baseAddress!, lda: g.patchSize, b: delta, ldb: columnCount,
                           beta: 0, c: cols, ldc: columnCount)
                    col2im(g, columns: UnsafeBufferPointer(start: cols, count: g.patchSize * columnCount), batch: count,
                           inputGradient: UnsafeMutableBufferPointer(rebasing: inputGradient.pointer[(chunk.lowerBound * g.inputSize)..<(chunk.upperBound * g.inputSize)]))
                }
            }
        }
        return needsInputGradient ? inputGradient.readable : nil
    }
}

// MARK: - Configuration

/// `conv`: filters, kernel (h×w), stride, padding, bias.
public struct Conv2DConfiguration: LayerConfiguration, Equatable {
    public enum Padding: Equatable, Sendable {
        case explicit(height: Int, width: Int)
        /// Output size ⌈H/s⌉ (stride 1: same as input); needs an odd kernel so the padding is symmetric.
        case same
        /// No padding.
        case valid
    }

    public var filters: Int
    public var kernel: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: Padding
    public var bias: Bool
    public var algorithm: ConvolutionAlgorithm

    public init(filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: Padding = .valid,
                bias: Bool = true, algorithm: ConvolutionAlgorithm = .im2col) {
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.bias = bias
        self.algorithm = algorithm
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding
            && a.bias == b.bias && a.algorithm == b.algorithm
    }

    public var kind: String { "conv" }

    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        guard input.isSpatial else { throw context.error(kind, input, .needsSpatialInput) }
        guard filters > 0, kernel.height > 0, kernel.width > 0, stride.height > 0, stride.width > 0 else {
            throw context.error(kind, input, .invalidParameter("filters, kernel and stride must be positive"))
        }
        let (padY, padX): (Int, Int)
        switch padding {
        case let .explicit(h, w):
            guard h >= 0, w >= 0 else { throw context.error(kind, input, .invalidParameter("padding must not be negative")) }
            (padY, padX) = (h, w)
        case .valid:
            (padY, padX) = (0, 0)
        case .same:
            guard kernel.height % 2 == 1, kernel.width % 2 == 1 else {
                throw context.error(kind, input, .invalidParameter("padding \"same\" needs an odd kernel, got \(kernel.height)×\(kernel.width)"))
            }
            (padY, padX) = (kernel.height / 2, kernel.width / 2)
        }
        let geometry = ConvolutionGeometry(
            channels: input.channels, height: input.height, width: input.width, filters: filters,
            kernelHeight: kernel.height, kernelWidth: kernel.width, strideY: stride.height, strideX: stride.width,
            padY: padY, padX: padX)
        let padded = [input.height + 2 * padY, input.width + 2 * padX]
        guard kernel.height <= padded[0], kernel.width <= padded[1] else {
            throw context.error(kind, input, .kernelLargerThanInput(kernel: [kernel.height, kernel.width], paddedInput: padded))
        }
        let (columns, columnsOverflow) = geometry.patchSize.multipliedReportingOverflow(by: geometry.outputPlane)
        let (outputs, outputsOverflow) = filters.multipliedReportingOverflow(by: geometry.outputPlane)
        guard !columnsOverflow, !outputsOverflow, max(columns, outputs) <= NetworkBuildError.maximumValuesPerSample else {
            throw context.error(kind, input, .tooLarge(columnsOverflow || outputsOverflow ? .max : max(columns, outputs)))
        }
        let (count, overflow) = filters.multipliedReportingOverflow(by: geometry.patchSize)
        guard !overflow, count <= NetworkBuildError.maximumParameters else {
            throw context.error(kind, input, .tooManyParameters(overflow ? .max : count))
        }
        let weight = Parameter<S>(name: "weight", shape: [filters, input.channels, kernel.height, kernel.width])
        var rng = context.rng
        context.initializer.fill(weight.value, fanIn: geometry.patchSize,
                                 fanOut: filters * kernel.height * kernel.width, rng: &rng)
        let bias = bias ? Parameter<S>(name: "bias", shape: [filters]) : nil
        return Conv2D<S>(geometry: geometry, weight: weight, bias: bias,
                         algorithm: algorithm)
    }
}
