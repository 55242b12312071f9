import Testing
@testable import ConvCore

/// The direct kernels (Float32, stride 1, few channels) against the plain-loop reference in
/// Float64 on random legal geometries: widths that end mid-vector and odd heights (the kernels'
/// tails), kernels up to 7 wide (the weight gradient's blocks of five columns), every padding
/// from 0 to k − 1, one to four filter groups.
///
/// Tolerance: each output is a sum of n products. Float32 recursive summation is off from the
/// exact sum by at most n·u·Σ|terms| (u = 2⁻²⁴; Higham, Accuracy and Stability, §4.2), and the
/// reference on |x|, |W|, |δ| gives Σ|terms| for each entry exactly, so the bound is rigorous and
/// as tight as the arithmetic allows: a term missing or misplaced breaks it.
@Suite("Direct convolution kernels equal the reference")
struct DirectConvolutionTests {
    struct Draw: CustomStringConvertible {
        var geometry: ConvolutionGeometry
        var batch: Int
        var description: String {
            let g = geometry
            return "C\(g.channels) \(g.height)×\(g.width) → \(g.filters) k\(g.kernelHeight)×\(g.kernelWidth) p\(g.padY)×\(g.padX) N\(batch)"
        }
    }

    static func draw(_ rng: inout Xoshiro256) -> Draw {
        let kh = 1 + rng.nextInt(below: 7), kw = 1 + rng.nextInt(below: 7)
        let padY = rng.nextInt(below: kh), padX = rng.nextInt(below: kw)
        let height = max(1, kh - 2 * padY) + rng.nextInt(below: 14), width = max(1, kw - 2 * padX) + rng.nextInt(below: 22)
        let g = ConvolutionGeometry(channels: 1 + rng.nextInt(below: 3), height: height, width: width,
                                    filters: 1 + rng.nextInt(below: 13), kernelHeight: kh, kernelWidth: kw,
                                    strideY: 1, strideX: 1, padY: padY, padX: padX)
        return Draw(geometry: g, batch: 1 + rng.nextInt(below: 4))
    }

    /// (y, dx, dW, db) of a Double reference layer on these values.
    static func reference(_ g: ConvolutionGeometry, _ batch: Int, w: [Double], b: [Double], x: [Double], delta: [Double])
        -> [[Double]] {
        let weight = Parameter<Double>(name: "weight", shape: [g.filters, g.channels, g.kernelHeight, g.kernelWidth])
        let bias = Parameter<Double>(name: "bias", shape: [g.filters])
        _ = weight.value.pointer.update(fromContentsOf: w)
        _ = bias.value.pointer.update(fromContentsOf: b)
        let layer = Conv2D<Double>(geometry: g, weight: weight, bias: bias, algorithm: .reference)
        return x.withUnsafeBufferPointer { x in
            let y = Array(layer.forward(x, batch: batch, mode: .training))
            let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: batch, needsInputGradient: true)!) }
            return [y, dx, layer.gradients[0].array, layer.gradients[1].array]
        }
    }

    /// Every entry of one draw within the bound; returns whether the layer ran the direct kernels.
    @discardableResult
    static func check(_ d: Draw, _ rng: inout Xoshiro256) -> Bool {
        let g = d.geometry
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        let w = values(g.filters * g.patchSize), b = values(g.filters)
        let x = values(d.batch * g.inputSize), delta = values(d.batch * g.filters * g.outputPlane)

        let weight = Parameter<Float>(name: "weight", shape: [g.filters, g.channels, g.kernelHeight, g.kernelWidth])
        let bias = Parameter<Float>(name: "bias", shape: [g.filters])
        _ = weight.value.pointer.update(fromContentsOf: w)
        _ = bias.value.pointer.update(fromContentsOf: b)
        let layer = Conv2D<Float>(geometry: g, weight: weight, bias: bias, algorithm: .im2col, fastPath: .direct)
        #expect(layer.usesDirectKernels, "\(d)")
        // Twice, so that leftovers of the first pass in the reused buffers would show.
        var fast: [[Float]] = []
        for _ in 0..<2 {
            fast = x.withUnsafeBufferPointer { xp in
                let y = Array(layer.forward(xp, batch: d.batch, mode: .training))
                let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: d.batch, needsInputGradient: true)!) }
                return [y, dx, layer.gradients[0].array, layer.gradients[1].array]
            }
        }
        let exact = Self.reference(g, d.batch, w: w.map(Double.init), b: b.map(Double.init), x: x.map(Double.init),
                                   delta: delta.map(Double.init))
        let magnitude = Self.reference(g, d.batch, w: w.map { Double(abs($0)) }, b: b.map { Double(abs($0)) },
                                       x: x.map { Double(abs($0)) }, delta: delta.map { Double(abs($0)) })
        // Terms per entry: forward C·kh·kw (+ bias), input error M·kh·kw, dW N·Ho·Wo, db N·Ho·Wo.
        let terms = [g.patchSize + 1, g.filters * g.kernelHeight * g.kernelWidth, d.batch * g.outputPlane, d.batch * g.outputPlane]
        let names = ["forward", "input error", "weight gradient", "bias gradient"]
        for k in 0..<4 {
            let u = 0x1p-24
            let bad = zip(fast[k].indices, zip(fast[k], zip(exact[k], magnitude[k]))).first { _, v in
                abs(Double(v.0) - v.1.0) > Double(terms[k]) * u * v.1.1 + 1e-30
            }
            #expect(fast[k].count == exact[k].count && bad == nil,
                    "\(names[k]) differs at \(bad.map { String($0.0) } ?? "-"): \(d)")
        }
        return layer.usesDirectKernels
    }

    @Test("400 random geometries: forward, input error, weight and bias gradients within the Float32 summation bound")
    func property() {
        var rng = Xoshiro256(seed: 31)
        var directCount = 0
        for _ in 0..<400 {
            directCount += Self.check(Self.draw(&rng), &rng) ? 1 : 0
        }
        #expect(directCount == 400)
    }

    @Test("the first layers of LeNet-5 and deep.json at a replica's batch of 32")
    func shippedFirstLayers() {
        var rng = Xoshiro256(seed: 5)
        for (filters, kernel, pad) in [(6, 5, 2), (16, 3, 1)] {
            let g = ConvolutionGeometry(channels: 1, height: 28, width: 28, filters: filters, kernelHeight: kernel, kernelWidth: kernel,
                                        strideY: 1, strideX: 1, padY: pad, padX: pad)
            Self.check(Draw(geometry: g, batch: 32), &rng)
        }
    }

    @Test("the direct kernels are chosen for Float32, stride 1, padding ≤ k − 1 and few channels; otherwise im2col")
    func choice() {
        func layer<T: EngineScalar>(_: T.Type, channels: Int, stride: Int = 1, pad: Int = 1) -> Conv2D<T> {
            let g = ConvolutionGeometry(channels: channels, height: 8, width: 8, filters: 4, kernelHeight: 3, kernelWidth: 3,
                                        strideY: stride, strideX: stride, padY: pad, padX: pad)
            return Conv2D<T>(geometry: g, weight: Parameter(name: "weight", shape: [4, channels, 3, 3]), bias: nil, algorithm: .im2col)
        }
        #expect(layer(Float.self, channels: 1).usesDirectKernels)
        #expect(!layer(Double.self, channels: 1).usesDirectKernels)       // gradient checks run im2col in Float64
        #expect(!layer(Float.self, channels: 1, stride: 2).usesDirectKernels)
        #expect(!layer(Float.self, channels: 1, pad: 3).usesDirectKernels)
        #expect(!layer(Float.self, channels: 16).usesDirectKernels)
        #expect(layer(Float.self, channels: 1).replica().usesDirectKernels)
    }
}
