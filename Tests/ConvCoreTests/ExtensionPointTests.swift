import Testing
@testable import ConvCore

/// A rule the engine does not know: it takes the generic window path, as any plugin's rule does.
struct ForeignRule: PoolingRule {
    var wrapped: PoolingMode
    var name: String { "foreign_" + wrapped.name }
    func pool(_ window: UnsafeBufferPointer<Double>) -> Double { wrapped.pool(window) }
    func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
               into inputGradient: UnsafeMutableBufferPointer<Double>) {
        wrapped.route(window, output: y, outputGradient: delta, into: inputGradient)
    }
    func branch(_ window: UnsafeBufferPointer<Double>) -> Int32? { wrapped.branch(window) }
}

/// Power-average pooling y = (Σ|x|ᵖ / n)^(1/p), the README's plugin example, here as a fixture;
/// `wrong` drops the y^(1−p) factor of its derivative.
struct PowerAverage: PoolingRule {
    var p: Double
    var wrong = false
    var name: String { "lp" }
    func pool(_ window: UnsafeBufferPointer<Double>) -> Double {
        Double.pow(window.reduce(0) { $0 + Double.pow(abs($1), p) } / Double(window.count), 1 / p)
    }
    func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
               into inputGradient: UnsafeMutableBufferPointer<Double>) {
        guard y > 0 else { return }
        let scale = wrong ? 1 : Double.pow(y, 1 - p)
        for i in window.indices {
            let x = window[i]
            inputGradient[i] = delta * (x < 0 ? -1 : 1) * Double.pow(abs(x), p - 1) * scale / Double(window.count)
        }
    }
}

/// An activation given only by its scalar forms: the layer's default buffer loops run it.
struct Softsign: ActivationRule {
    var name: String { "softsign" }
    func value(_ z: Double) -> Double { z / (1 + abs(z)) }
    func derivative(_ z: Double, value a: Double) -> Double { 1 / ((1 + abs(z)) * (1 + abs(z))) }
}

@Suite("Extension points: any pooling rule and activation, through the same layers and checks")
struct ExtensionPointTests {
    /// Random legal pooling geometries (window, stride, padding ≤ half the window, inputs 1–9).
    static func geometries(count: Int, seed: UInt64) -> [(shape: Shape, size: (Int, Int), stride: (Int, Int), padding: (Int, Int))] {
        var rng = Xoshiro256(seed: seed)
        var result: [(Shape, (Int, Int), (Int, Int), (Int, Int))] = []
        while result.count < count {
            let (kh, kw) = (1 + rng.nextInt(below: 3), 1 + rng.nextInt(below: 3))
            let (ph, pw) = (rng.nextInt(below: kh / 2 + 1), rng.nextInt(below: kw / 2 + 1))
            let (h, w) = (1 + rng.nextInt(below: 9), 1 + rng.nextInt(below: 9))
            guard kh <= h + 2 * ph, kw <= w + 2 * pw else { continue }
            result.append((Shape(channels: 1 + rng.nextInt(below: 3), height: h, width: w), (kh, kw),
                           (1 + rng.nextInt(below: 3), 1 + rng.nextInt(below: 3)), (ph, pw)))
        }
        return result
    }

    @Test("the window path equals the fused max and avg kernels on 300 random geometries (exactly: same comparisons, same sums)",
          arguments: PoolingMode.allCases)
    func windowPathEqualsFusedKernels(mode: PoolingMode) throws {
        for (index, g) in Self.geometries(count: 300, seed: 41).enumerated() {
            let batch = 1 + index % 3
            let x: [Double] = randomArray(batch * g.shape.count, seed: UInt64(index))
            let fused = Pool2DConfiguration(rule: mode, size: g.size, stride: g.stride, padding: g.padding)
            let foreign = Pool2DConfiguration(rule: ForeignRule(wrapped: mode), size: g.size, stride: g.stride, padding: g.padding)
            let outputCount = try runLayer(fused, input: g.shape, batch: batch, x: x).y.count
            let dy: [Double] = randomArray(outputCount, seed: UInt64(index) &+ 1000)
            let a = try runLayer(fused, input: g.shape, batch: batch, x: x, outputGradient: dy)
            let b = try runLayer(foreign, input: g.shape, batch: batch, x: x, outputGradient: dy)
            // Max picks the same cell (first maximum); the average sums the same cells in the
            // same row-major order, so both agree to the last bit up to the division (≤ 1 ulp).
            #expect(zip(a.y, b.y).allSatisfy { abs($0 - $1) <= 1e-15 * max(1, abs($0)) }, "forward, geometry \(index)")
            let (da, db) = (try #require(a.dx), try #require(b.dx))
            #expect(zip(da, db).allSatisfy { abs($0 - $1) <= 1e-14 * max(1, abs($0)) }, "backward, geometry \(index)")
            #expect((a.layer.kinkFingerprint == nil) == (b.layer.kinkFingerprint == nil))
        }
    }

    @Test("a rule's window holds only the cells inside the input: padding is never passed")
    func paddingIsNeverPassed() throws {
        struct Counting: PoolingRule {
            var name: String { "count" }
            func pool(_ window: UnsafeBufferPointer<Double>) -> Double { Double(window.count) }
            func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
                       into inputGradient: UnsafeMutableBufferPointer<Double>) {}
        }
        // 3×3 input, 3×3 window, padding 1, stride 1: corner windows see 4 cells, edges 6, the centre 9.
        let result = try runLayer(Pool2DConfiguration(rule: Counting(), size: (3, 3), stride: (1, 1), padding: (1, 1)),
                                  input: Shape(channels: 1, height: 3, width: 3), batch: 1, x: [Double](repeating: 1, count: 9))
        #expect(result.y == [4, 6, 4, 6, 9, 6, 4, 6, 4])
    }

    @Test("a network with a plugin pooling rule passes the gradient check with no code of the rule's for it", arguments: [1.5, 2.0, 4.0])
    func pluginRuleIsChecked(p: Double) throws {
        let layers: [any LayerConfiguration] = [
            Conv2DConfiguration(filters: 3, kernel: (3, 3)), ActivationConfiguration(.tanh),
            Pool2DConfiguration(rule: PowerAverage(p: p), size: (2, 2)), FlattenConfiguration(), DenseConfiguration(units: 4),
        ]
        let records = try gradientCheck(input: Shape(channels: 1, height: 8, width: 8), layers: layers)
        #expect(records.failures.isEmpty, "\(records.failures)")
        #expect(records.contains { $0.layerKind == "conv" && $0.outcome == .passed })
        #expect(records.contains { $0.layerIndex == nil && $0.outcome == .passed }, "the input gradient flows back through the pool layer")
    }

    @Test("a plugin rule with a wrong backward fails the check, at the layers before it and the input")
    func wrongRuleIsCaught() throws {
        let layers: [any LayerConfiguration] = [
            Conv2DConfiguration(filters: 3, kernel: (3, 3)), ActivationConfiguration(.tanh),
            Pool2DConfiguration(rule: PowerAverage(p: 3, wrong: true), size: (2, 2)), FlattenConfiguration(), DenseConfiguration(units: 4),
        ]
        let failures = try gradientCheck(input: Shape(channels: 1, height: 8, width: 8), layers: layers).failures
        #expect(failures.contains { $0.layerKind == "conv" })
        #expect(!failures.contains { $0.layerKind == "dense" }, "layers after the pool are unaffected")
    }

    @Test("an activation given by its scalar forms: the default buffer loops equal them, and it passes the gradient check")
    func scalarActivation() throws {
        let z: [Double] = randomArray(200, seed: 5, scale: 4)
        let dy: [Double] = randomArray(200, seed: 6)
        let result = try runLayer(ActivationConfiguration(Softsign()), input: Shape([200]), batch: 1, x: z, outputGradient: dy)
        for i in z.indices {
            #expect(result.y[i] == z[i] / (1 + abs(z[i])))
            #expect(try #require(result.dx)[i] == dy[i] * (1 / ((1 + abs(z[i])) * (1 + abs(z[i])))))
        }
        let records = try gradientCheck(input: Shape([6]), layers: [DenseConfiguration(units: 5), ActivationConfiguration(Softsign()),
                                                                    DenseConfiguration(units: 3)])
        #expect(records.failures.isEmpty)
    }

    @Test("the built-in activations' scalar forms equal their fused kernels", arguments: [
        ActivationFunction.relu, .leakyReLU(slope: 0.1), .sigmoid, .tanh, .elu(alpha: 1), .elu(alpha: 0.5), .identity,
    ])
    func builtInScalarForms(function: ActivationFunction) throws {
        let z: [Double] = randomArray(500, seed: 9, scale: 5)
        let dy: [Double] = randomArray(500, seed: 10)
        let fused = try runLayer(ActivationConfiguration(function), input: Shape([500]), batch: 1, x: z, outputGradient: dy)
        let dx = try #require(fused.dx)
        for i in z.indices {
            let a = function.value(z[i])
            // The kernels and the scalar forms evaluate the same expression in the same order;
            // sigmoid's 1/(1+e^−z) may round differently once: 1 ulp.
            #expect(abs(fused.y[i] - a) <= 1e-15 * max(1, abs(a)))
            #expect(abs(dx[i] - dy[i] * function.derivative(z[i], value: a)) <= 1e-15 * max(1, abs(dx[i])))
        }
    }

    @Test("a custom initializer fills weights from the layer's own stream, and the built-ins keep their draws")
    func initializers() throws {
        struct Constant: WeightInitializer {
            var name: String { "constant" }
            func weight(fanIn: Int, fanOut: Int, rng: inout Xoshiro256) -> Double { 0.25 }
        }
        let network = try Network<Float>(input: Shape([4]), layers: [DenseConfiguration(units: 3)], initializer: Constant(), seed: 1)
        #expect(network.parameters[0].value.readable.allSatisfy { $0 == 0.25 })
        // He-uniform for fan-in 4: U(±√(6/4)), the first draw of stream 1 of seed 1.
        let he = try Network<Double>(input: Shape([4]), layers: [DenseConfiguration(units: 3)], initializer: Initializer.heUniform, seed: 1)
        var rng = Xoshiro256(seed: 1, stream: 1)
        #expect(he.parameters[0].value.readable[0] == (rng.nextUnit() * 2 - 1) * (6.0 / 4).squareRoot())
    }
}
