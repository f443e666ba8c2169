// Persistent worker threads for the matrix products of decoding. A token needs about
// fifty small products; handing each to Dispatch costs more than the work it splits, so
// workers wait spinning for new work (and sleep after ~100 µs idle).
//
// Work is a few large chunks that every thread, the caller included, claims from one
// atomic ticket. When another process holds a core, the caller does the chunks itself
// instead of waiting for a worker that is not running. The ticket packs the job's
// generation, its chunk count and the next chunk, so a worker that wakes late can never
// claim a chunk of a job that is over: it touches the job only after winning a chunk,
// and the caller cannot finish the job while any chunk is unfinished.
//
// One job at a time: a second caller (another session of the same model) that finds the
// pool busy does its chunks itself rather than wait or disturb the job under way. The
// workers run the pool's kernel variant, whatever the process's other threads use.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

package final class WorkerPool: @unchecked Sendable {
    /// Threads that take part, the caller included.
    package let threads: Int
    /// What the workers share with the caller. Workers hold it, not the pool, so the pool
    /// can go away (stopping and joining them) while they still run.
    private let shared: PoolShared
    private var handles: [pthread_t] = []

    package static let maxChunks = (1 << 20) - 1

    package init(threads: Int, kernels: KernelISA = .detected) {
        self.threads = max(1, threads)
        shared = PoolShared(kernels: kernels)
        for _ in 1..<self.threads {
            let start = Unmanaged.passRetained(shared)
            #if canImport(Darwin)
            // Darwin's pthread_t is a pointer, set by pthread_create, and the argument is non-optional.
            var handle: pthread_t?
            let rc = pthread_create(&handle, nil, { arg in
                Unmanaged<PoolShared>.fromOpaque(arg).takeRetainedValue().workerLoop()
                return nil
            }, start.toOpaque())
            if rc == 0, let handle { handles.append(handle) } else { start.release() }
            #else
            var handle = pthread_t()
            let rc = pthread_create(&handle, nil, { arg in
                Unmanaged<PoolShared>.fromOpaque(arg!).takeRetainedValue().workerLoop()
                return nil
            }, start.toOpaque())
            if rc == 0 { handles.append(handle) } else { start.release() }
            #endif
        }
    }

    /// Runs body(0..<chunks) across the threads; returns when every chunk is done.
    package func run(chunks: Int, _ body: (Int) -> Void) {
        guard !handles.isEmpty, chunks > 1, chunks <= WorkerPool.maxChunks, shared.acquire() else {
            for c in 0..<chunks { body(c) }
            return
        }
        defer { shared.release() }
        shared.run(chunks: chunks, body)
    }

    deinit {
        shared.stop()
        for h in handles { pthread_join(h, nil) }
    }
}

private final class PoolShared: @unchecked Sendable {
    /// generation (bits 40...63) | chunk count (bits 20...39) | next chunk (bits 0...19)
    private let ticket = Atomic<UInt64>(0)
    private let doneChunks = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Held by the one caller whose job the workers serve.
    private let busy = Atomic<Bool>(false)
    private let kernels: KernelISA
    // Written only by the caller holding `busy`; read by workers only inside that job.
    private var generation: UInt64 = 0
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    package init(kernels: KernelISA) {
        self.kernels = kernels
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// True when the caller now owns the pool for one job; false when another caller does.
    package func acquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    package func release() { busy.store(false, ordering: .releasing) }

    package func run(chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            job = body
            doneChunks.store(0, ordering: .relaxed)
            generation = (generation + 1) & 0xFF_FFFF
            // Sequentially consistent with the sleepers' counter, so a worker going to sleep
            // either sees the new ticket or is seen and woken.
            ticket.store(generation << 40 | UInt64(chunks) << 20, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wakeAll() }
            while let c = claim(generation) { body(c); doneChunks.add(1, ordering: .releasing) }
            while doneChunks.load(ordering: .acquiring) < chunks { spinPause() }
            job = nil
        }
    }

    package func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wakeAll()
    }

    private func wakeAll() {
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Claims the next chunk of generation `g`, if any is left.
    private func claim(_ g: UInt64) -> Int? {
        var t = ticket.load(ordering: .acquiring)
        while true {
            let next = t & 0xF_FFFF, count = (t >> 20) & 0xF_FFFF
            guard t >> 40 == g, next < count else { return nil }
            let (exchanged, current) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            if exchanged { return Int(next) }
            t = current
        }
    }

    package func workerLoop() {
        tl_force_isa(tl_isa(rawValue: UInt32(kernels.rawValue)))
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var g = ticket.load(ordering: .acquiring) >> 40
            while g == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins < 50_000 {
                    spinPause()
                } else {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while ticket.load(ordering: .sequentiallyConsistent) >> 40 == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                        pthread_cond_wait(&condition, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
                g = ticket.load(ordering: .acquiring) >> 40
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = g
            // `job` is read only while this thread holds an unfinished chunk of generation g,
            // so the caller is still inside run(chunks:) for g and the job is alive.
            while let c = claim(g) {
                job!(c)
                doneChunks.add(1, ordering: .releasing)
            }
        }
    }
}

@inline(__always)
private func spinPause() { tl_cpu_relax() }
