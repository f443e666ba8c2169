// Work spread over threads: rows split across the cores, a task collected later, and
// the pages of a mapping released once they are used.

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body(thread, rows)` over `count` rows split into `threads` contiguous ranges.
package func parallelRows(_ count: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
    let t = max(1, min(threads, count))
    if t == 1 { body(0, 0..<count); return }
    // The ranges are disjoint and concurrentPerform returns only when all are done,
    // so handing the non-Sendable body to the workers is safe.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: t) { i in
            shared.value(i, (count * i / t)..<(count * (i + 1) / t))
        }
    }
}

package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}

/// Drops the whole pages inside [p, p + byteCount) of a read-only file mapping from this
/// process's memory; a later read faults them back in from the page cache.
package func releasePages(_ p: UnsafeRawPointer, byteCount: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: p) + page - 1) / page * page
    let end = (Int(bitPattern: p) + byteCount) / page * page
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
}

/// Work started on another thread whose result is collected later.
package final class BackgroundTask<T>: @unchecked Sendable {
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    package init(_ work: @escaping () throws -> T) {
        let box = UncheckedSendable(work)
        DispatchQueue.global().async {
            self.result = Result { try box.value() }
            self.done.signal()
        }
    }

    package func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
