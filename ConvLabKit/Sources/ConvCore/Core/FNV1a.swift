/// FNV-1a, 64 bits (Fowler, Noll, Vo): for each word, xor it in, then multiply by the FNV prime.
/// Cheap and order-sensitive: it notices a change (a spec edited, labels reordered, a kink
/// crossed). It identifies; it is not a security hash.
public struct FNV1a64: Sendable, Equatable {
    public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01B3

    public private(set) var value = FNV1a64.offsetBasis

    public init() {}

    public mutating func combine(_ word: UInt64) {
        value = (value ^ word) &* Self.prime
    }

    /// FNV-1a over the UTF-8 bytes of `text`.
    public static func hash(_ text: String) -> UInt64 {
        var hasher = FNV1a64()
        for byte in text.utf8 { hasher.combine(UInt64(byte)) }
        return hasher.value
    }

    /// FNV-1a over 32-bit integers, each as one word.
    public static func hash(_ values: some Sequence<Int32>) -> UInt64 {
        var hasher = FNV1a64()
        for value in values { hasher.combine(UInt64(UInt32(bitPattern: value))) }
        return hasher.value
    }
}
