import ConvCore

/// The tests' seeded generator: the engine's SplitMix64, so property tests draw the same values
/// on every machine.
public typealias SplitMix = SplitMix64

extension SplitMix64 {
    /// The next raw 64-bit word.
    public mutating func raw() -> UInt64 { next() }
    /// A number in 0..<n.
    public mutating func next(below n: Int) -> Int { Int(raw() % UInt64(n)) }
}
