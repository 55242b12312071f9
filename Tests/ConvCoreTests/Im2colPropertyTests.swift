import Testing
@testable import ConvCore

/// The fast path (im2col + GEMM) against the plain-loop reference on random legal geometries.
@Suite("im2col equals the reference on every legal geometry")
struct Im2colPropertyTests {
    /// One convolution's sizes plus the batch and the samples per chunk of the fast path.
    struct Draw: CustomStringConvertible {
        var geometry: ConvolutionGeometry
        var batch: Int
        var samplesPerChunk: Int
        var description: String {
            let g = geometry
            return "C\(g.channels) \(g.height)×\(g.width) → \(g.filters) k\(g.kernelHeight)×\(g.kernelWidth) "
                + "s\(g.strideY)×\(g.strideX) p\(g.padY)×\(g.padX) N\(batch) chunk \(samplesPerChunk)"
        }
    }

    /// Both algorithms on one geometry, same weights (bias random, not zero), same x and δ.
    /// Returns (y, dx, dW, db) per algorithm.
    static func run(_ d: Draw, seed: UInt64) -> [(y: [Double], dx: [Double], dW: [Double], db: [Double])] {
        let g = d.geometry
        let weight = Parameter<Double>(name: "weight", shape: [g.filters, g.channels, g.kernelHeight, g.kernelWidth])
        let bias = Parameter<Double>(name: "bias", shape: [g.filters])
        var rng = Xoshiro256(seed: seed)
        for i in 0..<weight.count { weight.value.pointer[i] = rng.nextUnit() * 2 - 1 }
        for i in 0..<bias.count { bias.value.pointer[i] = rng.nextUnit() * 2 - 1 }
        let x: [Double] = (0..<(d.batch * g.inputSize)).map { _ in rng.nextUnit() * 2 - 1 }
        let delta: [Double] = (0..<(d.batch * g.filters * g.outputPlane)).map { _ in rng.nextUnit() * 2 - 1 }
        // The chunk size follows from the bytes a chunk may use; ask for exactly `samplesPerChunk`.
        let chunkBytes = d.samplesPerChunk * MemoryLayout<Double>.stride * g.patchSize * g.outputPlane
        let layers = [
            Conv2D<Double>(geometry: g, weight: weight, bias: bias, algorithm: .im2col, chunkBytes: chunkBytes),
            Conv2D<Double>(geometry: g, weight: weight, bias: bias, algorithm: .reference),
        ]
        return layers.map { layer in
            x.withUnsafeBufferPointer { x in
                let y = Array(layer.forward(x, batch: d.batch, mode: .training))
                let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: d.batch, needsInputGradient: true)!) }
                return (y, dx, layer.gradients[0].array, layer.gradients[1].array)
            }
        }
    }

    /// Float64; both paths sum the same ≤ C·kh·kw (forward, dW over N·P) products of numbers in
    /// [−1, 1] in different orders, so they differ by a few ulps of the sum. 1e-10 relative (or
    /// absolute below 1) is ~10⁵ ulps of margin and far below one misplaced term (≥ ~1e-3).
    static func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-10 * max(1, abs($1)) }
    }

    static func expectEqualPaths(_ d: Draw, seed: UInt64) {
        let results = run(d, seed: seed)
        let (fast, reference) = (results[0], results[1])
        #expect(close(fast.y, reference.y), "forward differs: \(d)")
        #expect(close(fast.dx, reference.dx), "input gradient differs: \(d)")
        #expect(close(fast.dW, reference.dW), "weight gradient differs: \(d)")
        #expect(close(fast.db, reference.db), "bias gradient differs: \(d)")
    }

    static func geometry(c: Int = 1, h: Int, w: Int, m: Int = 1, kh: Int, kw: Int, sy: Int = 1, sx: Int = 1, py: Int, px: Int)
        -> ConvolutionGeometry {
        ConvolutionGeometry(channels: c, height: h, width: w, filters: m, kernelHeight: kh, kernelWidth: kw,
                            strideY: sy, strideX: sx, padY: py, padX: px)
    }

    // MARK: the crash of issue 7, item 1

    /// 1×1 input, 5×5 kernel, padding 2: one output, ⌈p/s⌉ = 2 > 1 output column. The fast path
    /// wrote zeros past the end of its patch row (a segfault in release, a trap in debug).
    /// By hand: only the kernel's centre meets the input, so y = x·W[2][2] + b, dx = δ·W[2][2],
    /// dW = δ·x at the centre and 0 elsewhere.
    @Test("a 5×5 kernel with padding 2 on a 1×1 input, by hand", arguments: ConvolutionAlgorithm.allCases)
    func kernelLargerThanInput(algorithm: ConvolutionAlgorithm) {
        let g = Self.geometry(h: 1, w: 1, kh: 5, kw: 5, py: 2, px: 2)
        let weight = Parameter<Double>(name: "weight", shape: [1, 1, 5, 5])
        for i in 0..<25 { weight.value.pointer[i] = Double(i + 1) }    // W[2][2] = 13
        let bias = Parameter<Double>(name: "bias", shape: [1])
        bias.value.pointer[0] = 0.5
        let layer = Conv2D<Double>(geometry: g, weight: weight, bias: bias, algorithm: algorithm)
        let x: [Double] = [3], delta: [Double] = [2]
        let (y, dx) = x.withUnsafeBufferPointer { x in
            (Array(layer.forward(x, batch: 1, mode: .training)),
             delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: 1, needsInputGradient: true)!) })
        }
        #expect(y == [3 * 13 + 0.5])
        #expect(dx == [2 * 13])
        #expect(layer.gradients[0].array == (0..<25).map { $0 == 12 ? 6 : 0 })
        #expect(layer.gradients[1].array == [2])
    }

    /// The width axis only: rows are guarded one by one, columns by the valid range. Here the
    /// height is ordinary and the width has ⌈p_x/s_x⌉ = 3 > 1 output column (and, with stride 2,
    /// ⌈5/2⌉ = 3 > 2).
    @Test("⌈pad_x/stride_x⌉ larger than the output width, the width axis only", arguments: [
        Draw(geometry: geometry(c: 2, h: 6, w: 2, m: 3, kh: 3, kw: 8, py: 1, px: 3), batch: 3, samplesPerChunk: 2),
        Draw(geometry: geometry(c: 1, h: 5, w: 1, m: 2, kh: 2, kw: 9, sx: 2, py: 0, px: 5), batch: 2, samplesPerChunk: 1),
        Draw(geometry: geometry(c: 1, h: 1, w: 1, m: 1, kh: 5, kw: 5, py: 2, px: 2), batch: 4, samplesPerChunk: 3),
    ])
    func wideKernel(d: Draw) {
        Self.expectEqualPaths(d, seed: 1)
    }

    // MARK: the property

    /// A legal geometry: every axis drawn independently; the padding up to 4 (more than the
    /// input is legal), the kernel anywhere up to the padded input, so larger than the input too.
    static func draw(_ rng: inout Xoshiro256) -> Draw {
        func axis() -> (size: Int, kernel: Int, stride: Int, pad: Int) {
            let size = 1 + rng.nextInt(below: 12)
            let pad = rng.nextInt(below: 5)
            // One axis in four takes the largest legal kernel (up to 9): the geometries whose
            // border columns lie wholly in the padding, where the fast path used to crash.
            let largest = min(size + 2 * pad, 9)
            let kernel = rng.nextInt(below: 4) == 0 ? largest : 1 + rng.nextInt(below: largest)
            let stride = 1 + rng.nextInt(below: 4)
            return (size, kernel, stride, pad)
        }
        let (h, w) = (axis(), axis())
        let g = ConvolutionGeometry(channels: 1 + rng.nextInt(below: 3), height: h.size, width: w.size,
                                    filters: 1 + rng.nextInt(below: 3), kernelHeight: h.kernel, kernelWidth: w.kernel,
                                    strideY: h.stride, strideX: w.stride, padY: h.pad, padX: w.pad)
        // Batches of 1…5 cut into chunks of 1…4 samples: one chunk, several, and a short last one.
        return Draw(geometry: g, batch: 1 + rng.nextInt(below: 5), samplesPerChunk: 1 + rng.nextInt(below: 4))
    }

    /// 2,000 geometries from a fixed seed (≈ 5 s in a debug build on a busy shared machine). The draws cover kernels larger
    /// than the input, ⌈p/s⌉ beyond the output on either axis, strides larger than the kernel,
    /// and batches that end in a partial chunk; the counters below make sure they did.
    @Test("2,000 random legal geometries: forward, input, weight and bias gradients")
    func randomGeometries() {
        var rng = Xoshiro256(seed: 0x1_2C0)
        var kernelWiderThanInput = 0, padBeyondOutput = 0, partialChunks = 0
        for trial in 0..<2000 {
            let d = Self.draw(&rng)
            let g = d.geometry
            if g.kernelWidth > g.width || g.kernelHeight > g.height { kernelWiderThanInput += 1 }
            if (g.padX + g.strideX - 1) / g.strideX > g.outputWidth { padBeyondOutput += 1 }
            if d.batch > d.samplesPerChunk && d.batch % d.samplesPerChunk != 0 { partialChunks += 1 }
            let results = Self.run(d, seed: UInt64(trial))
            let (fast, reference) = (results[0], results[1])
            let same = Self.close(fast.y, reference.y) && Self.close(fast.dx, reference.dx)
                && Self.close(fast.dW, reference.dW) && Self.close(fast.db, reference.db)
            #expect(same, "trial \(trial): \(d)")
            if !same { break }
        }
        #expect(kernelWiderThanInput > 400)
        #expect(padBeyondOutput > 50)
        #expect(partialChunks > 200)
    }
}
