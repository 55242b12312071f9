import Dispatch

/// Runs `body(0..<count)` on up to `count` threads and returns when all are done. The bodies
/// touch disjoint replicas, which is why handing them non-Sendable state is sound here.
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else {
        if count == 1 { body(0) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let task = body
        DispatchQueue.concurrentPerform(iterations: count) { task($0) }
    }
}
