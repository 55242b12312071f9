#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Long-lived worker threads that a trainer owns: `run(count, body)` runs `body(0)` on the
/// calling thread and `body(1)`, …, `body(count − 1)` on the workers, and returns when all are
/// done. The workers are plain pthreads, started on first use and joined in `deinit`.
///
/// Written by hand, instead of `DispatchQueue.concurrentPerform`, because concurrentPerform
/// leaves entries in the *calling* thread's private libdispatch continuation cache. When that
/// thread is a plain one (`Thread.detachNewThread`, a pthread of an embedding program) and exits
/// holding the last reference to an object whose deinit releases a DispatchQueue (a GRDB pool),
/// libdispatch's thread-exit cleanup has already freed those entries without forgetting them,
/// and the queue's disposal writes into freed memory (glibc: "unaligned fastbin chunk").
/// Here the caller's thread does nothing but lock, signal and wait, so training leaves no
/// dispatch state behind on any thread.
final class WorkerPool: @unchecked Sendable {
    typealias Job = (Int) -> Void

    /// The state the workers share with the owner; the workers hold it, never the pool.
    private final class Shared: @unchecked Sendable {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        /// Guarded by `mutex`: the job of round `round`, run by workers with index < `jobWidth`.
        var round: UInt64 = 0
        var job: UnsafePointer<Job>?
        var jobWidth = 0
        var unfinished = 0
        var stopping = false

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
            pthread_cond_init(finished, nil)
        }

        deinit {
            pthread_cond_destroy(finished)
            pthread_cond_destroy(wake)
            pthread_mutex_destroy(mutex)
            finished.deallocate()
            wake.deallocate()
            mutex.deallocate()
        }

        /// Worker `index` (1…): waits for a round, runs its share, reports it done; until `stopping`.
        func work(index: Int) {
            var seen: UInt64 = 0
            pthread_mutex_lock(mutex)
            while true {
                while round == seen && !stopping { pthread_cond_wait(wake, mutex) }
                if stopping { break }
                seen = round
                let job = self.job, width = jobWidth
                pthread_mutex_unlock(mutex)
                if index < width, let job { job.pointee(index) }
                pthread_mutex_lock(mutex)
                unfinished -= 1
                if unfinished == 0 { pthread_cond_signal(finished) }
            }
            pthread_mutex_unlock(mutex)
        }
    }

    private let shared = Shared()
    private var threads: [pthread_t] = []
    /// The number of worker threads (the caller's thread makes one more lane).
    let workers: Int

    init(workers: Int) {
        self.workers = max(workers, 0)
    }

    deinit {
        pthread_mutex_lock(shared.mutex)
        shared.stopping = true
        pthread_cond_broadcast(shared.wake)
        pthread_mutex_unlock(shared.mutex)
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Runs `body(i)` for i in 0..<count, at most `workers + 1` at once; body(0) on this thread.
    /// Indices beyond the lanes run one after the other on this thread.
    func run(_ count: Int, _ body: Job) {
        guard count > 1, workers > 0 else {
            for index in 0..<max(count, 0) { body(index) }
            return
        }
        startIfNeeded()
        let parallel = min(count, threads.count + 1)   // threads.count < workers only if pthread_create failed
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafePointer(to: &job) { job in
                pthread_mutex_lock(shared.mutex)
                shared.job = job
                shared.jobWidth = parallel
                shared.unfinished = threads.count
                shared.round &+= 1
                pthread_cond_broadcast(shared.wake)
                pthread_mutex_unlock(shared.mutex)

                job.pointee(0)

                pthread_mutex_lock(shared.mutex)
                while shared.unfinished > 0 { pthread_cond_wait(shared.finished, shared.mutex) }
                shared.job = nil
                pthread_mutex_unlock(shared.mutex)
            }
        }
        for index in parallel..<count { body(index) }
    }

    private func startIfNeeded() {
        guard threads.isEmpty else { return }
        for index in 1...workers {
            let context = Unmanaged.passRetained(WorkerContext(shared: shared, index: index)).toOpaque()
            #if canImport(Glibc)
            var thread = pthread_t()
            #else
            var thread: pthread_t?
            #endif
            let created = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.shared.work(index: context.index)
                return nil
            }, context)
            guard created == 0 else {
                // No thread for this lane: release its context; the lanes started so far work on.
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                break
            }
            #if canImport(Glibc)
            threads.append(thread)
            #else
            if let thread { threads.append(thread) }
            #endif
        }
    }

    private final class WorkerContext {
        let shared: Shared
        let index: Int
        init(shared: Shared, index: Int) {
            self.shared = shared
            self.index = index
        }
    }
}
