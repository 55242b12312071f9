import Testing
@testable import ConvCore

/// The vector max-pooling kernel (stride 2) against the plain loops it replaces, on every
/// instruction set this CPU runs: outputs bit for bit and the same argmax, on random geometries
/// (odd and even sizes, windows 1–4, every padding below the window) and inputs with many ties
/// (values from a small set), −∞ and NaN, where "first maximum wins" and "last NaN wins" decide.
@Suite("Vector max pooling equals the loops")
struct VectorPoolingTests {
    static func draw(_ rng: inout Xoshiro256) -> (PoolingGeometry, planes: Int) {
        let wh = 1 + rng.nextInt(below: 4), ww = 1 + rng.nextInt(below: 4)
        let padY = rng.nextInt(below: wh), padX = rng.nextInt(below: ww)
        let height = max(1, wh - 2 * padY) + rng.nextInt(below: 15), width = max(1, ww - 2 * padX) + rng.nextInt(below: 40)
        let g = PoolingGeometry(channels: 1, height: height, width: width, windowHeight: wh, windowWidth: ww,
                                strideY: 2, strideX: 2, padY: padY, padX: padX)
        return (g, 1 + rng.nextInt(below: 4))
    }

    static func values(_ count: Int, _ rng: inout Xoshiro256) -> [Float] {
        (0..<count).map { _ in
            switch rng.nextInt(below: 20) {
            case 0: .nan
            case 1: -.infinity
            case 2: .infinity
            default: Float(rng.nextInt(below: 5)) - 2   // few distinct values: many ties
            }
        }
    }

    @Test("500 random geometries per instruction set: the same outputs (bitwise) and argmaxes", arguments: KernelISA.available)
    func property(isa: KernelISA) {
        var rng = Xoshiro256(seed: 77)
        for _ in 0..<500 {
            let (g, planes) = Self.draw(&rng)
            let x = Self.values(planes * g.height * g.width, &rng)
            let layer = Pool2D<Float>(rule: PoolingMode.max, geometry: g, isa: isa)
            #expect(layer.usesVectorKernel)
            let fast = x.withUnsafeBufferPointer { Array(layer.forward($0, batch: planes, mode: .training)) }
            let outCount = planes * g.outputHeight * g.outputWidth
            var expected = [Float](repeating: 0, count: outCount)
            var expectedArgmax = [Int32](repeating: 0, count: outCount)
            x.withUnsafeBufferPointer { xp in
                expected.withUnsafeMutableBufferPointer { y in
                    expectedArgmax.withUnsafeMutableBufferPointer { a in
                        PoolingKernels.maxForward(g, input: xp, planes: planes, output: y, argmax: a)
                    }
                }
            }
            let sameValues = fast.count == outCount && zip(fast, expected).allSatisfy { $0.bitPattern == $1.bitPattern }
            #expect(sameValues, "\(isa.name): \(g) × \(planes)")
            // The argmax decides backward: the error must go to the same cells.
            let delta = (0..<outCount).map { Float($0 % 7) + 1 }
            let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: planes, needsInputGradient: true)!) }
            var expectedDx = [Float](repeating: 0, count: x.count)
            for plane in 0..<planes {
                for o in 0..<(g.outputHeight * g.outputWidth) {
                    let index = plane * g.outputHeight * g.outputWidth + o
                    expectedDx[plane * g.height * g.width + Int(expectedArgmax[index])] += delta[index]
                }
            }
            #expect(dx == expectedDx, "\(isa.name): \(g) × \(planes)")
        }
    }

    @Test("the vector kernel runs for Float32 max pooling with stride 2 only")
    func choice() {
        func layer<T: EngineScalar>(_: T.Type, rule: any PoolingRule = PoolingMode.max, stride: Int = 2, window: Int = 2, pad: Int = 0) -> Pool2D<T> {
            Pool2D<T>(rule: rule, geometry: PoolingGeometry(channels: 2, height: 8, width: 8, windowHeight: window, windowWidth: window,
                                                           strideY: stride, strideX: stride, padY: pad, padX: pad))
        }
        #expect(layer(Float.self).usesVectorKernel)
        #expect(layer(Float.self, window: 3, pad: 1).usesVectorKernel)
        #expect(layer(Float.self).replica().usesVectorKernel)
        #expect(!layer(Double.self).usesVectorKernel)
        #expect(!layer(Float.self, rule: PoolingMode.avg).usesVectorKernel)
        #expect(!layer(Float.self, stride: 1).usesVectorKernel)
        #expect(!layer(Float.self, window: 5, pad: 2).usesVectorKernel)
    }
}
