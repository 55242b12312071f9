import Foundation
import Testing
@testable import ConvCore

/// Per index: how often it ran and on which thread (pthread_self), written by that index only.
private final class Ledger: @unchecked Sendable {
    var runs: [Int]
    var threads: [pthread_t?]
    init(_ count: Int) {
        runs = Array(repeating: 0, count: count)
        threads = Array(repeating: nil, count: count)
    }
}

@Suite("WorkerPool: the trainer's own threads")
struct WorkerPoolTests {
    @Test("every index runs exactly once per call, for random widths and worker counts, over many rounds")
    func everyIndexOnce() {
        var random = Xoshiro256(seed: 15)
        for _ in 0..<200 {
            let workers = random.nextInt(below: 4)
            let pool = WorkerPool(workers: workers)
            for _ in 0..<20 {
                let count = random.nextInt(below: 8)
                let ledger = Ledger(count)
                pool.run(count) { index in ledger.runs[index] += 1 }
                #expect(ledger.runs == Array(repeating: 1, count: count), "workers \(workers), count \(count)")
            }
        }
    }

    @Test("index 0 runs on the calling thread, the others on worker threads of their own, the same ones every call")
    func lanes() {
        let pool = WorkerPool(workers: 2)
        var seen: [[pthread_t?]] = []
        for _ in 0..<3 {
            let ledger = Ledger(3)
            pool.run(3) { index in
                ledger.threads[index] = pthread_self()
                // Hold each lane long enough that a pool running them one after the other on one
                // thread would still show one thread id, and a parallel one three.
                usleep(2_000)
            }
            seen.append(ledger.threads)
        }
        let caller = pthread_self()
        for threads in seen {
            #expect(threads[0].map { pthread_equal($0, caller) != 0 } == true)
            #expect(threads[1].map { pthread_equal($0, caller) == 0 } == true)
            #expect(threads[2].map { pthread_equal($0, caller) == 0 } == true)
            if let a = threads[1], let b = threads[2] { #expect(pthread_equal(a, b) == 0) }
        }
        #expect(seen.allSatisfy { zip($0, seen[0]).allSatisfy { pair in
            guard let a = pair.0, let b = pair.1 else { return false }
            return pthread_equal(a, b) != 0
        } })
    }

    @Test("the workers run at the same time: two lanes that each wait for the other finish")
    func concurrent() {
        let pool = WorkerPool(workers: 1)
        let lock = NSCondition()
        nonisolated(unsafe) var arrived = 0
        pool.run(2) { _ in
            lock.lock()
            arrived += 1
            lock.broadcast()
            // A pool that ran the lanes one after the other would wait here forever; 10 s is the
            // bound after which the test fails instead of hanging.
            let deadline = Date().addingTimeInterval(10)
            while arrived < 2 && lock.wait(until: deadline) {}
            lock.unlock()
        }
        #expect(arrived == 2)
    }

    @Test("a pool released while idle ends its threads (deinit joins them), however many pools come and go")
    func poolsComeAndGo() {
        for _ in 0..<300 {
            let pool = WorkerPool(workers: 1)
            let ledger = Ledger(2)
            pool.run(2) { ledger.runs[$0] += 1 }
            #expect(ledger.runs == [1, 1])
        }
        // 300 pools with a thread each would exhaust nothing, but leaked threads would show here.
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        #expect(tasks < 100, "\(tasks) threads alive after 300 pools were released")
    }
}
