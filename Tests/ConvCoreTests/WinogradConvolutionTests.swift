import Testing
@testable import ConvCore

/// The Winograd F(2×2, 3×3) kernels against the plain-loop reference in Float64, on random legal
/// geometries (odd and even sizes: the tiles' tails; every padding 0…2; channel and filter counts
/// that are not multiples of 4 or of a vector), on every instruction set this CPU runs.
///
/// Tolerance: recursive Float32 summation of n terms is off by at most n·u·Σ|terms| (u = 2⁻²⁴;
/// Higham §4.2). Winograd sums transformed terms instead, and products that cancel exactly in
/// the convolution (a weight and an input pixel of the same 4×4 tile that never meet) are
/// rounded too. Every intermediate of a forward tile is bounded by P = Σ_c ‖W[k,c]‖₁·max|x[n,c]|
/// (|Bᵀ·d·B| ≤ 4·max|d|, |G·g·Gᵀ| ≤ ‖g‖₁, Aᵀ·M·A adds 9 of them): so an entry of plane (n, k) is
/// within 81·(n + 12)·u·P. The input error is the same pass on δ; the weight gradient of
/// (k, c) is bounded likewise by the largest Σ|terms| among its 9 entries. Loose against rounding,
/// yet a term missing, doubled or misplaced moves an entry by about its own size and breaks it
/// (`aMissingTermIsCaught` checks that).
@Suite("Winograd kernels equal the reference")
struct WinogradConvolutionTests {
    typealias Draw = DirectConvolutionTests.Draw

    static func draw(_ rng: inout Xoshiro256) -> Draw {
        let pad = rng.nextInt(below: 3)
        let height = max(1, 3 - 2 * pad) + rng.nextInt(below: 13), width = max(1, 3 - 2 * pad) + rng.nextInt(below: 36)
        let g = ConvolutionGeometry(channels: 1 + rng.nextInt(below: 13), height: height, width: width,
                                    filters: 1 + rng.nextInt(below: 13), kernelHeight: 3, kernelWidth: 3,
                                    strideY: 1, strideX: 1, padY: pad, padX: pad)
        return Draw(geometry: g, batch: 1 + rng.nextInt(below: 3))
    }

    /// The largest error of each pass (forward, input error, weight gradient, bias gradient) in
    /// units of its bound; all below 1 means the draw passes.
    static func errors(_ d: Draw, isa: KernelISA, _ rng: inout Xoshiro256, corrupt: Bool = false) -> [Double] {
        let g = d.geometry
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        let w = values(g.filters * g.patchSize), b = values(g.filters)
        let x = values(d.batch * g.inputSize), delta = values(d.batch * g.filters * g.outputPlane)

        let weight = Parameter<Float>(name: "weight", shape: [g.filters, g.channels, 3, 3])
        let bias = Parameter<Float>(name: "bias", shape: [g.filters])
        _ = weight.value.pointer.update(fromContentsOf: w)
        _ = bias.value.pointer.update(fromContentsOf: b)
        let layer = Conv2D<Float>(geometry: g, weight: weight, bias: bias, algorithm: .im2col, fastPath: .winograd, isa: isa)
        #expect(layer.fastPath == .winograd, "\(d)")
        // Twice, so that leftovers of the first pass in the reused buffers would show.
        var fast: [[Float]] = []
        for _ in 0..<2 {
            fast = x.withUnsafeBufferPointer { xp in
                let y = Array(layer.forward(xp, batch: d.batch, mode: .training))
                let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: d.batch, needsInputGradient: true)!) }
                return [y, dx, layer.gradients[0].array, layer.gradients[1].array]
            }
        }
        if corrupt { fast[0][fast[0].count / 2] += Float(abs(w[0] * x[0])) }
        let exact = DirectConvolutionTests.reference(g, d.batch, w: w.map(Double.init), b: b.map(Double.init),
                                                     x: x.map(Double.init), delta: delta.map(Double.init))
        let magnitude = DirectConvolutionTests.reference(g, d.batch, w: w.map { Double(abs($0)) }, b: b.map { Double(abs($0)) },
                                                         x: x.map { Double(abs($0)) }, delta: delta.map { Double(abs($0)) })
        let terms = [g.patchSize + 1, g.filters * 9, d.batch * g.outputPlane, d.batch * g.outputPlane]
        let scale = [planeScale(weights: w, input: x, batch: d.batch, g: g, inputError: false),
                     planeScale(weights: w, input: delta, batch: d.batch, g: g, inputError: true),
                     kernelMaxima(magnitude[2], count: g.filters * g.channels), magnitude[3]]
        let u = 0x1p-24
        return (0..<4).map { k in
            guard fast[k].count == exact[k].count else { return .infinity }
            let factor = k == 3 ? 1.0 : 81.0   // the bias gradient is a plain sum
            let perScale = fast[k].count / scale[k].count
            return fast[k].indices.map { i in
                abs(Double(fast[k][i]) - exact[k][i]) / (factor * Double(terms[k] + 12) * u * scale[k][i / perScale] + 1e-30)
            }.max() ?? 0
        }
    }

    /// P per output plane: Σ over the pass's channels of ‖W‖₁ · max|input plane|. For the input
    /// error the pass runs over δ's K planes with the rotated weights.
    static func planeScale(weights w: [Float], input: [Float], batch: Int, g: ConvolutionGeometry, inputError: Bool) -> [Double] {
        let (inPlanes, outPlanes) = inputError ? (g.filters, g.channels) : (g.channels, g.filters)
        let plane = input.count / (batch * inPlanes)
        var result: [Double] = []
        for n in 0..<batch {
            let maxima = (0..<inPlanes).map { c in input[((n * inPlanes + c) * plane)..<((n * inPlanes + c + 1) * plane)].map { Double(abs($0)) }.max() ?? 0 }
            for o in 0..<outPlanes {
                result.append((0..<inPlanes).reduce(0.0) { sum, c in
                    let (k, ch) = inputError ? (c, o) : (o, c)
                    let kernel = w[((k * g.channels + ch) * 9)..<((k * g.channels + ch + 1) * 9)]
                    return sum + kernel.reduce(0.0) { $0 + Double(abs($1)) } * maxima[c]
                })
            }
        }
        return result
    }

    /// The largest of each kernel's 9 entries, per kernel.
    static func kernelMaxima(_ values: [Double], count: Int) -> [Double] {
        (0..<count).map { values[($0 * 9)..<($0 * 9 + 9)].max() ?? 0 }
    }

    @Test("100 random geometries per instruction set: forward, input error, weight and bias gradients within the bound",
          arguments: KernelISA.available)
    func property(isa: KernelISA) {
        var rng = Xoshiro256(seed: 47)
        let names = ["forward", "input error", "weight gradient", "bias gradient"]
        for _ in 0..<100 {
            let d = Self.draw(&rng)
            let errors = Self.errors(d, isa: isa, &rng)
            for (name, error) in zip(names, errors) {
                #expect(error < 1, "\(name) off by \(error) bounds on \(isa.name): \(d)")
            }
        }
    }

    @Test("deep.json's 3×3 convolutions, 3 samples", arguments: KernelISA.available)
    func shippedLayers(isa: KernelISA) {
        var rng = Xoshiro256(seed: 9)
        for (channels, filters, size) in [(16, 16, 28), (16, 32, 14), (32, 32, 14)] {
            let g = ConvolutionGeometry(channels: channels, height: size, width: size, filters: filters, kernelHeight: 3, kernelWidth: 3,
                                        strideY: 1, strideX: 1, padY: 1, padX: 1)
            let errors = Self.errors(Draw(geometry: g, batch: 3), isa: isa, &rng)
            #expect(errors.allSatisfy { $0 < 1 }, "\(errors) on \(isa.name): \(g)")
        }
    }

    @Test("large images, processed in bands of tile rows (forward: over 256 tiles, rows of over 128; weight gradient: over 1536, rows of over 768)",
          arguments: KernelISA.available)
    func bands(isa: KernelISA) {
        var rng = Xoshiro256(seed: 13)
        for (size, pad) in [((40, 40), 1), ((33, 35), 0), ((9, 300), 1), ((5, 261), 2), ((80, 80), 1), ((3, 1601), 1)] {
            let g = ConvolutionGeometry(channels: 3 + rng.nextInt(below: 3), height: size.0, width: size.1, filters: 2 + rng.nextInt(below: 4),
                                        kernelHeight: 3, kernelWidth: 3, strideY: 1, strideX: 1, padY: pad, padX: pad)
            let errors = Self.errors(Draw(geometry: g, batch: 2), isa: isa, &rng)
            #expect(errors.allSatisfy { $0 < 1 }, "\(errors) on \(isa.name): \(g)")
        }
    }

    @Test("the bound catches a single term added to one output")
    func aMissingTermIsCaught() {
        var rng = Xoshiro256(seed: 3)
        let g = ConvolutionGeometry(channels: 8, height: 12, width: 12, filters: 8, kernelHeight: 3, kernelWidth: 3,
                                    strideY: 1, strideX: 1, padY: 1, padX: 1)
        let errors = Self.errors(Draw(geometry: g, batch: 2), isa: .selected, &rng, corrupt: true)
        #expect(errors[0] > 1)
    }

    @Test("Winograd is chosen for Float32 3×3 stride-1 convolutions with more than a few channels")
    func choice() {
        func layer<T: EngineScalar>(_: T.Type, channels: Int, kernel: Int = 3, stride: Int = 1, pad: Int = 1) -> Conv2D<T> {
            let g = ConvolutionGeometry(channels: channels, height: 8, width: 8, filters: 4, kernelHeight: kernel, kernelWidth: kernel,
                                        strideY: stride, strideX: stride, padY: pad, padX: pad)
            return Conv2D<T>(geometry: g, weight: Parameter(name: "weight", shape: [4, channels, kernel, kernel]), bias: nil, algorithm: .im2col)
        }
        #expect(layer(Float.self, channels: 16).fastPath == .winograd)
        #expect(layer(Float.self, channels: 16).replica().fastPath == .winograd)
        #expect(layer(Float.self, channels: 1).fastPath == .direct)
        #expect(layer(Double.self, channels: 16).fastPath == .gemm)
        #expect(layer(Float.self, channels: 16, stride: 2).fastPath == .gemm)
        #expect(layer(Float.self, channels: 16, kernel: 5, pad: 2).fastPath == .gemm)
        #expect(layer(Float.self, channels: 16, pad: 3).fastPath == .gemm)
    }

    @Test("the sets tests run are every one up to the CPU's best, generic first, and the selected one among them")
    func isaChoice() {
        #expect(KernelISA.selected <= KernelISA.best)
        #expect(KernelISA.available.last == KernelISA.best)
        #expect(KernelISA.available.first == .generic)
    }
}
