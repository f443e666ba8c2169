// The one write loop: all of a buffer to a file descriptor, through short writes and
// signals (EINTR), which write(2) allows at any point.

#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes every byte of `bytes` to `fd`; the errno of the failure, or nil.
package func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var p = bytes.baseAddress
    var left = bytes.count
    while left > 0, let q = p {
        let n = systemWrite(fd, q, left)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        p = q + n
        left -= n
    }
    return nil
}
