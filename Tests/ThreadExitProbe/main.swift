// thread-exit-probe: the mechanism behind issue 15's heap corruption, in a process of its own.
//
// A detached thread trains a few two-replica steps (both replicas on their own threads) and then
// exits while its closure holds the last reference to a RunStore (a GRDB DatabasePool, whose
// deinit releases DispatchQueues during the thread's exit). With the replicas fanned out through
// DispatchQueue.concurrentPerform, libdispatch's thread-exit cleanup left a freed continuation in
// the thread's cache and the queue's disposal wrote into it; under glibc's malloc checking
// (GLIBC_TUNABLES=glibc.malloc.check=3, LD_PRELOAD=libc_malloc_debug.so.0) the process aborted.
// ThreadExitTests runs this program many times and counts the aborts.
//
// Usage: thread-exit-probe FOLDER   (exit 0: the thread ended and the store was released cleanly)
import ConvLabKit
import Foundation
import RunStore

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: thread-exit-probe FOLDER\n".utf8))
    exit(2)
}
let storePath = CommandLine.arguments[1] + "/probe-\(getpid()).sqlite"

final class Released: @unchecked Sendable {
    private let lock = NSLock()
    private weak var tracked: RunStore?
    func track(_ store: RunStore) { lock.lock(); tracked = store; lock.unlock() }
    var isReleased: Bool { lock.lock(); defer { lock.unlock() }; return tracked == nil }
}

let released = Released()
let trained = DispatchSemaphore(value: 0)
do {
    let store = try RunStore(path: storePath)
    released.track(store)
    Thread.detachNewThread { [store] in
        do {
            let network = try Network<Float>(input: Shape(channels: 1, height: 12, width: 12), layers: [
                Conv2DConfiguration(filters: 4, kernel: (3, 3)), ActivationConfiguration(.relu),
                Pool2DConfiguration(mode: .max, size: (2, 2)), FlattenConfiguration(), DenseConfiguration(units: 3),
            ], seed: 7)
            let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self),
                                  replicas: 2, usesThreads: true)
            let batch = 16
            var random = Xoshiro256(seed: 3)
            let images = (0..<(batch * 144)).map { _ in Float(random.nextUnit()) - 0.5 }
            let labels = (0..<batch).map { Int32($0 % 3) }
            for _ in 0..<4 {
                images.withUnsafeBufferPointer { images in
                    labels.withUnsafeBufferPointer { labels in
                        _ = trainer.step(images: images, labels: labels, batch: batch, learningRate: 0.01)
                    }
                }
            }
            _ = store.path
        } catch {
            FileHandle.standardError.write(Data("thread-exit-probe: \(error)\n".utf8))
            exit(1)
        }
        trained.signal()
        // Returning ends the thread; its closure, and with it the last reference to `store`, is
        // released by the thread's exit destructors.
    }
}
trained.wait()
// The thread's exit releases the store; give it up to 10 s.
for _ in 0..<1000 where !released.isReleased { usleep(10_000) }
try? FileManager.default.removeItem(atPath: storePath)
for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: storePath + suffix) }
guard released.isReleased else {
    FileHandle.standardError.write(Data("thread-exit-probe: the thread never released the store\n".utf8))
    exit(1)
}
exit(0)
