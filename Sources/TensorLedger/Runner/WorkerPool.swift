// Persistent worker threads for the matrix products of decoding. A token needs about
// fifty small products; handing each to Dispatch costs more than the work it splits, so
// workers wait spinning on a generation counter (and go to sleep after ~100 µs idle).

import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class WorkerPool: @unchecked Sendable {
    /// Threads that take part, the caller included.
    let threads: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var handles: [pthread_t] = []

    init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for index in 1..<self.threads {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var handle = pthread_t()
            let rc = pthread_create(&handle, nil, { arg in
                let start = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
                start.pool.workerLoop(start.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { handles.append(handle) } else { box.release() }
        }
    }

    /// Runs body(0) on the calling thread and body(1...) on the workers; returns when all are done.
    func run(_ body: (Int) -> Void) {
        guard !handles.isEmpty else { body(0); return }
        withoutActuallyEscaping(body) { body in
            job = body
            pending.store(handles.count, ordering: .relaxed)
            // Sequentially consistent with the sleepers' counter, so a worker going to sleep
            // either sees the new generation or is seen and woken.
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            body(0)
            while pending.load(ordering: .acquiring) > 0 { spinPause() }
            job = nil
        }
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins < 50_000 { spinPause(); continue }
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .relaxed) {
                    pthread_cond_wait(&condition, &mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
                spins = 0
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation.load(ordering: .acquiring)
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for h in handles { pthread_join(h, nil) }
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }
}

private final class WorkerStart {
    // Unowned: the pool's deinit stops and joins its workers.
    unowned let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}

@inline(__always)
private func spinPause() { tl_cpu_relax() }
