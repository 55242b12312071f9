import Testing
@testable import ConvCore

@Suite("Convolution forward and backward")
struct ConvolutionTests {
    /// x = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,2],[3,4]], b = 0.5, δ = [[1,−1],[2,3]] (δ ≠ W, so a
    /// backward that swapped δ and W, or used W for δ, is caught).
    /// By hand:  z[i][j] = Σ_ab x[i+a][j+b]·W[a][b] + b, e.g. z[0][0] = 1·1 + 2·2 + 4·3 + 5·4 + 0.5 = 37.5.
    ///           dW[a][b] = Σ_ij x[i+a][j+b]·δ[i][j], e.g. dW[0][0] = 1·1 − 2·1 + 4·2 + 5·3 = 22,
    ///           dW = [[22, 27], [37, 42]];  db = 1 − 1 + 2 + 3 = 5.
    ///           dX = full_corr(pad_1(δ), rot180(W)) with rot180(W) = [[4,3],[2,1]], i.e.
    ///           dX[y][x] = Σ_ij δ[i][j]·W[y−i][x−j]:  dX[1][1] = 1·4 − 1·3 + 2·2 + 3·1 = 8,
    ///           dX = [[1, 1, −2], [5, 8, 2], [6, 17, 12]].
    @Test("a 3×3 input and a 2×2 kernel, computed by hand", arguments: ConvolutionAlgorithm.allCases)
    func handComputed(algorithm: ConvolutionAlgorithm) throws {
        let network = try Network<Double>(input: Shape(channels: 1, height: 3, width: 3),
                                          layers: [Conv2DConfiguration(filters: 1, kernel: (2, 2), algorithm: algorithm)], seed: 1)
        let conv = try #require(network.layers[0] as? Conv2D<Double>)
        _ = conv.weight.value.pointer.update(fromContentsOf: [1, 2, 3, 4])
        conv.bias?.value.pointer[0] = 0.5
        let x: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let delta: [Double] = [1, -1, 2, 3]
        let (y, dx) = x.withUnsafeBufferPointer { x in
            let y = Array(network.forward(x, batch: 1, mode: .training))
            let dx = delta.withUnsafeBufferPointer { network.backward($0, batch: 1, needsInputGradient: true) }.map(Array.init)
            return (y, dx)
        }
        #expect(y == [37.5, 47.5, 67.5, 77.5])
        #expect(conv.gradients[0].array == [22, 27, 37, 42])
        #expect(conv.gradients[1].array == [5])
        #expect(dx == [1, 1, -2,
                       5, 8, 2,
                       6, 17, 12])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var channels, height, width, filters, kernelH, kernelW, strideH, strideW, padH, padW, batch: Int
        var testDescription: String {
            "C\(channels) \(height)×\(width) → \(filters) k\(kernelH)×\(kernelW) s\(strideH)×\(strideW) p\(padH)×\(padW) N\(batch)"
        }
        var configuration: Conv2DConfiguration {
            Conv2DConfiguration(filters: filters, kernel: (kernelH, kernelW), stride: (strideH, strideW),
                                padding: .explicit(height: padH, width: padW))
        }
        var shape: Shape { Shape(channels: channels, height: height, width: width) }
    }

    static let shapes: [Case] = [
        Case(channels: 1, height: 28, width: 28, filters: 6, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2, batch: 3),
        // 9 samples of LeNet's first layer: several chunks (Conv2D.chunkSize: three in Float32, one
        // in Float64), so the per-chunk GEMMs, the summed weight and bias gradients and the
        // per-chunk col2im all run, here and in the Float32 adjoint test.
        Case(channels: 1, height: 28, width: 28, filters: 6, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2, batch: 9),
        Case(channels: 6, height: 14, width: 14, filters: 16, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 0, padW: 0, batch: 2),
        // r = (9 + 2 − 3) mod 2 = 0 across, (7 − 2) mod 3 = 2 down the columns.
        Case(channels: 3, height: 9, width: 7, filters: 4, kernelH: 3, kernelW: 2, strideH: 2, strideW: 3, padH: 1, padW: 0, batch: 2),
        Case(channels: 2, height: 8, width: 10, filters: 3, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, batch: 2),
        Case(channels: 2, height: 8, width: 11, filters: 5, kernelH: 4, kernelW: 3, strideH: 3, strideW: 2, padH: 2, padW: 1, batch: 1),
        Case(channels: 2, height: 5, width: 5, filters: 3, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 0, padW: 0, batch: 4),
    ]

    /// The fast path and the reference compute the same sums in different orders; in Float64 they
    /// agree to ~1e-15 relative, so 1e-10 leaves margin without hiding a wrong index.
    @Test("LeNet's first layer is computed in several chunks at batch 9")
    func chunking() throws {
        let network = try Network<Float>(input: Shape(channels: 1, height: 28, width: 28),
                                         layers: [Conv2DConfiguration(filters: 6, kernel: (5, 5), padding: .explicit(height: 2, width: 2))], seed: 1)
        let conv = try #require(network.layers[0] as? Conv2D<Float>)
        #expect(conv.chunks(9) == [0..<3, 3..<6, 6..<9])
    }

    @Test("im2col + GEMM equals the plain-loop reference", arguments: shapes)
    func fastEqualsReference(c: Case) throws {
        var fast = c.configuration
        fast.algorithm = .im2col
        var reference = c.configuration
        reference.algorithm = .reference
        let fastNet = try Network<Double>(input: c.shape, layers: [fast], seed: 5)
        let referenceNet = try Network<Double>(input: c.shape, layers: [reference], seed: 5)
        for p in referenceNet.parameters where p.name == "bias" { p.value.fill(0.25) }
        for p in fastNet.parameters where p.name == "bias" { p.value.fill(0.25) }
        let x: [Double] = randomArray(c.batch * c.shape.count, seed: 9)
        let delta: [Double] = randomArray(c.batch * fastNet.outputShape.count, seed: 10)
        func run(_ net: Network<Double>) -> ([Double], [Double], [[Double]]) {
            x.withUnsafeBufferPointer { x in
                let y = Array(net.forward(x, batch: c.batch, mode: .training))
                let dx = delta.withUnsafeBufferPointer { Array(net.backward($0, batch: c.batch, needsInputGradient: true)!) }
                return (y, dx, net.gradients.map(\.array))
            }
        }
        let (y1, dx1, g1) = run(fastNet)
        let (y2, dx2, g2) = run(referenceNet)
        func close(_ a: [Double], _ b: [Double]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-10 * max(1, abs($1)) }
        }
        #expect(close(y1, y2))
        #expect(close(dx1, dx2))
        #expect(g1.count == g2.count)
        for (a, b) in zip(g1, g2) { #expect(close(a, b)) }
    }

    /// ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩: the input gradient is the exact adjoint of the forward map.
    /// In Float32 both sides are sums of ~10⁴ products of O(1) numbers; 1e-4 relative is a few
    /// hundred ulps of the total, far below what a misplaced index would cause.
    @Test("adjoint identity for convolution (Float32)", arguments: shapes)
    func convolutionAdjoint(c: Case) throws {
        var configuration = c.configuration
        configuration.bias = false
        let x: [Float] = randomArray(c.batch * c.shape.count, seed: 1)
        let probe = try runLayer(configuration, input: c.shape, batch: c.batch, x: x) as (layer: any Layer<Float>, y: [Float], dx: [Float]?)
        let y: [Float] = randomArray(probe.y.count, seed: 2)
        let (_, forward, adjoint) = try runLayer(configuration, input: c.shape, batch: c.batch, x: x, outputGradient: y)
        let lhs = dot(forward, y), rhs = dot(x, try #require(adjoint))
        #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
    }

    @Test("adjoint identity for pooling (Float32)", arguments: PoolingMode.allCases)
    func poolingAdjoint(mode: PoolingMode) throws {
        let configuration = Pool2DConfiguration(mode: mode, size: (3, 3), stride: (2, 2), padding: (1, 1))
        let shape = Shape(channels: 3, height: 9, width: 8)
        let x: [Float] = randomArray(2 * shape.count, seed: 3)
        let first: (layer: any Layer<Float>, y: [Float], dx: [Float]?) = try runLayer(configuration, input: shape, batch: 2, x: x)
        let y: [Float] = randomArray(first.y.count, seed: 4)
        let (_, forward, adjoint) = try runLayer(configuration, input: shape, batch: 2, x: x, outputGradient: y)
        let lhs = dot(forward, y), rhs = dot(x, try #require(adjoint))
        #expect(abs(lhs - rhs) <= 1e-5 * max(1, abs(lhs)))
    }
}
