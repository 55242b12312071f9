import Testing
@testable import ConvCore

@Suite("Losses and optimizers")
struct LossAndOptimizerTests {
    @Test("softmax cross-entropy is stable for huge logits and matches log-sum-exp")
    func softmaxStable() {
        let logits: [Double] = [1000, 1001, 999, -1e6, 0, 0]
        var gradient = [Double](repeating: 0, count: 6)
        let result = logits.withUnsafeBufferPointer { z in
            [Int32(1), 2].withUnsafeBufferPointer { labels in
                gradient.withUnsafeMutableBufferPointer { g in
                    SoftmaxCrossEntropy().evaluate(z, labels: labels, batch: 2, classes: 3, normalizer: 2, gradient: g)
                }
            }
        }
        // Sample 0: log(e^-1 + 1 + e^-2) + 1001 − 1001; sample 1: log(e^-1e6 + 2) + 0 − 0 = log 2.
        let expected = Double.log(Double.exp(-1) + 1 + Double.exp(-2)) + Double.log(2)
        #expect(abs(result.sum - expected) < 1e-12)
        #expect(result.correct == 1)
        #expect(gradient.allSatisfy { $0.isFinite })
        // Each row of softmax − onehot sums to 0.
        #expect(abs(gradient[0] + gradient[1] + gradient[2]) < 1e-15)
    }

    @Test("mean squared error against one-hot labels")
    func mse() {
        var gradient = [Float](repeating: 0, count: 2)
        let result = [Float(0.5), 2].withUnsafeBufferPointer { z in
            [Int32(1)].withUnsafeBufferPointer { labels in
                gradient.withUnsafeMutableBufferPointer { g in
                    MeanSquaredError().evaluate(z, labels: labels, batch: 1, classes: 2, normalizer: 1, gradient: g)
                }
            }
        }
        #expect(result.sum == 0.625)            // ((0.5)² + (2 − 1)²) / 2
        #expect(gradient == [0.5, 1])           // 2·(z − t)/K
    }

    func oneStep(_ configuration: OptimizerConfiguration, steps: Int = 2) -> [Double] {
        let optimizer = configuration.make(Double.self)
        let parameter = Parameter<Double>(name: "weight", shape: [2])
        _ = parameter.value.pointer.update(fromContentsOf: [1.0, -2.0])
        let gradient = ScalarBuffer<Double>([0.5, 0.25])
        for _ in 0..<steps { optimizer.update([parameter], gradients: [gradient], learningRate: 0.1) }
        return parameter.value.array
    }

    @Test("SGD, momentum, Nesterov and weight decay follow their update rules")
    func sgd() {
        // Plain, two steps: w − 2·0.1·g (1e-12: two roundings of O(1) numbers)
        let plain = oneStep(.sgd())
        #expect(abs(plain[0] - 0.9) < 1e-12 && abs(plain[1] - (-2.05)) < 1e-12)
        // Momentum 0.9: v1 = g, v2 = 1.9 g → w − 0.1·2.9·g
        let momentum = oneStep(.sgd(momentum: 0.9))
        #expect(abs(momentum[0] - (1 - 0.1 * 2.9 * 0.5)) < 1e-12)
        // Nesterov, one step: w − η(g + μ·v1) = w − 0.1·1.9·g
        let nesterov = oneStep(.sgd(momentum: 0.9, nesterov: true), steps: 1)
        #expect(abs(nesterov[0] - (1 - 0.1 * 1.9 * 0.5)) < 1e-12)
        // Weight decay 0.1, one step: w − η(g + λw)
        let decayed = oneStep(.sgd(weightDecay: 0.1), steps: 1)
        #expect(abs(decayed[0] - (1 - 0.1 * (0.5 + 0.1))) < 1e-12)
    }

    @Test("Adam's first step moves every weight by the learning rate")
    func adam() {
        // With bias correction m̂ = g, v̂ = g², so the step is η·g/(|g| + ε) ≈ η·sign(g).
        let w = oneStep(.adam(), steps: 1)
        #expect(abs(w[0] - 0.9) < 1e-6)
        #expect(abs(w[1] - (-2.1)) < 1e-6)
    }

    @Test("learning-rate schedules")
    func schedules() {
        #expect(LearningRateSchedule.constant.rate(base: 0.1, step: 50, totalSteps: 100, epoch: 3) == 0.1)
        #expect(abs(LearningRateSchedule.step(everyEpochs: 2, gamma: 0.5).rate(base: 0.1, step: 0, totalSteps: 100, epoch: 5) - 0.025) < 1e-15)
        let cosine = LearningRateSchedule.cosine(minimum: 0)
        #expect(cosine.rate(base: 0.1, step: 0, totalSteps: 100, epoch: 0) == 0.1)
        #expect(abs(cosine.rate(base: 0.1, step: 50, totalSteps: 100, epoch: 0) - 0.05) < 1e-15)
        #expect(abs(cosine.rate(base: 0.1, step: 100, totalSteps: 100, epoch: 0)) < 1e-15)
    }

    @Test("initialisers stay within their bounds and differ by seed")
    func initialisers() {
        let buffer = ScalarBuffer<Float>(count: 1000)
        var rng = Xoshiro256(seed: 1)
        Initializer.heUniform.fill(buffer, fanIn: 25, fanOut: 150, rng: &rng)
        let limit = Float((6.0 / 25).squareRoot())
        #expect(buffer.array.allSatisfy { abs($0) <= limit })
        #expect(buffer.array.max()! > limit * 0.9)
        let std = (buffer.array.map { Double($0 * $0) }.reduce(0, +) / 1000).squareRoot()
        #expect(abs(std - (2.0 / 25).squareRoot()) < 0.03)   // uniform(±L) has std L/√3 = √(2/fanIn)
    }

    @Test("the RNG is xoshiro256** with SplitMix64 seeding: fixed values for seed 0")
    func rngIsStable() {
        var a = Xoshiro256(seed: 0), b = Xoshiro256(seed: 0), c = Xoshiro256(seed: 1)
        let first = (0..<4).map { _ in a.next() }
        // Computed once, independently, by a 20-line Python reimplementation of SplitMix64
        // (state += 0x9E3779B97F4A7C15, the two xor-shift-multiply rounds) filling s0…s3, then
        // xoshiro256** (result = rotl(s1·5, 7)·9), all modulo 2⁶⁴. The fifth and sixth draws
        // below go through nextUnit: (x >> 11)·2⁻⁵³, also from the Python run.
        #expect(first == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0, 0x6AA5_94F1_262D_2D2C])
        var d = Xoshiro256(seed: 0)
        for _ in 0..<4 { _ = d.next() }
        #expect(d.nextUnit() == 0.7329967790569901)     // 0xBBA5AD4A1F842E59
        #expect(d.nextUnit() == 0.9997484362337864)     // 0xFFEF8375D9EBCACA
        #expect(first == (0..<4).map { _ in b.next() })
        #expect(first != (0..<4).map { _ in c.next() })
        var counts = [0, 0, 0]
        for _ in 0..<3000 { counts[a.nextInt(below: 3)] += 1 }
        #expect(counts.allSatisfy { $0 > 900 && $0 < 1100 })
    }
}
