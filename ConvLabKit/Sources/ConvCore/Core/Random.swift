/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64. The engine's only source of
/// randomness: a seed gives the same weights, shuffles and dropout masks on every machine,
/// because every draw is integer arithmetic (uniform floats are built from the top bits).
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next(); s1 = seeder.next(); s2 = seeder.next(); s3 = seeder.next()
    }

    /// The generator's whole state, for checkpoints: a generator rebuilt from these words
    /// continues exactly where this one stands.
    public var stateWords: [UInt64] { [s0, s1, s2, s3] }

    /// A generator from `stateWords`; nil unless there are exactly four words, not all zero
    /// (xoshiro's one invalid state: it would only ever return 0).
    public init?(stateWords words: [UInt64]) {
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { return nil }
        s0 = words[0]; s1 = words[1]; s2 = words[2]; s3 = words[3]
    }

    /// A generator for a sub-stream (a layer, a replica, an epoch) that does not overlap in
    /// practice with its parent's stream.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ 0x5851_F42D_4C95_7F2D)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform integer in 0..<bound, unbiased (rejection on the low product, Lemire 2019).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }

    /// Standard normal draw (Box–Muller on two uniforms).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUnit(), 0x1p-60)
        let u2 = nextUnit()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
    }

    /// Fisher–Yates shuffle in place.
    public mutating func shuffle(_ indices: inout [Int]) {
        guard indices.count > 1 else { return }
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            indices.swapAt(i, nextInt(below: i + 1))
        }
    }
}

import RealModule
