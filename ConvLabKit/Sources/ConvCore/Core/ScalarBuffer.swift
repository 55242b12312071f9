/// A block of scalars with a stable address that a layer owns for its whole life: its output,
/// its input gradient, its parameter gradients. Forward and backward hand each other pointers
/// into these blocks, so a training step allocates nothing.
///
/// `pointer` covers the `count` scalars in use; the memory behind it is grown by capacity and
/// never shrunk, so a batch-size change (the last, smaller batch of an epoch, an evaluation
/// batch, then training again) neither reallocates nor zero-fills anything.
public final class ScalarBuffer<T: EngineScalar>: @unchecked Sendable {
    public private(set) var pointer: UnsafeMutableBufferPointer<T>
    /// Scalars allocated (and initialised) behind `pointer`.
    public private(set) var capacity: Int

    public init(count: Int) {
        let count = max(count, 0)
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0)
        capacity = count
    }

    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        _ = pointer.update(fromContentsOf: values)
    }

    deinit { UnsafeMutableBufferPointer(start: pointer.baseAddress, count: capacity).deallocate() }

    public var count: Int { pointer.count }
    public var readable: UnsafeBufferPointer<T> { UnsafeBufferPointer(pointer) }

    /// Makes `count` scalars available; their contents are unspecified afterwards. Within the
    /// capacity this only moves the end; beyond it, the old block is freed and a larger one
    /// taken, neither copied nor zero-filled (every caller writes what it later reads).
    public func ensureCount(_ count: Int) {
        let count = max(count, 0)
        if count > capacity {
            UnsafeMutableBufferPointer(start: pointer.baseAddress, count: capacity).deallocate()
            // Float and Double are trivial types: memory that is allocated is initialised as far as
            // Swift is concerned, and the layers write every scalar they later read.
            let block = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            pointer = block
            capacity = count
        } else {
            pointer = UnsafeMutableBufferPointer(start: pointer.baseAddress, count: count)
        }
    }

    public func fill(_ value: T) { pointer.update(repeating: value) }
    public var array: [T] { Array(pointer) }
}
