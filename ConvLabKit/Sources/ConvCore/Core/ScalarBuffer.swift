/// A block of scalars with a stable address that a layer owns for its whole life: its output,
/// its input gradient, its parameter gradients. Forward and backward hand each other pointers
/// into these blocks, so a training step allocates nothing.
public final class ScalarBuffer<T: EngineScalar>: @unchecked Sendable {
    public private(set) var pointer: UnsafeMutableBufferPointer<T>

    public init(count: Int) {
        pointer = .allocate(capacity: max(count, 0))
        pointer.initialize(repeating: 0)
    }

    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        _ = pointer.initialize(from: values)
    }

    deinit { pointer.deallocate() }

    public var count: Int { pointer.count }
    public var readable: UnsafeBufferPointer<T> { UnsafeBufferPointer(pointer) }

    /// Makes room for `count` scalars; the contents are unspecified afterwards.
    public func ensureCount(_ count: Int) {
        guard count != pointer.count else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0)
    }

    public func fill(_ value: T) { pointer.update(repeating: value) }
    public var array: [T] { Array(pointer) }
}
