// Text read from a file or a pipe within a bound the reader sets: the most text a model's
// context can hold. Nothing past the bound is kept, so a 200 MB line on standard input
// costs one chunk of memory and an error, not gigabytes and then the same error.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines of a file descriptor (standard input), each refused past `limit` bytes while
/// the rest of it is skipped.
public final class BoundedLineReader {
    public enum Line: Equatable {
        case text(String)
        /// A line longer than the limit; its bytes were read and dropped.
        case tooLong(bytes: Int)
    }

    private let fd: Int32
    public let limit: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    public init(fd: Int32 = 0, limit: Int) {
        self.fd = fd
        self.limit = limit
    }

    /// The next line without its newline (and carriage return); nil at the end, or when
    /// Ctrl-C interrupted the wait for one (Interrupts.interruptReads; the reader goes on after).
    public func next() throws(FileError) -> Line? {
        var dropped = 0, scanned = start
        while true {
            if let nl = newline(from: scanned) {
                defer { start = nl + 1 }
                if dropped > 0 || nl - start > limit { return .tooLong(bytes: dropped + nl - start) }
                var end = nl
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                return .text(String(decoding: buffer[start..<end], as: UTF8.self))
            }
            if atEnd {
                guard start < buffer.count || dropped > 0 else { return nil }
                defer { start = buffer.count }
                if dropped > 0 || buffer.count - start > limit { return .tooLong(bytes: dropped + buffer.count - start) }
                return .text(String(decoding: buffer[start...], as: UTF8.self))
            }
            // Past the limit without a newline: keep counting, stop keeping.
            if buffer.count - start > limit {
                dropped += buffer.count - start
                buffer.removeAll(keepingCapacity: true)
                start = 0
            } else if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            scanned = buffer.count
            if try !fill() { return nil }
        }
    }

    private func newline(from i: Int) -> Int? {
        buffer.withUnsafeBytes { raw in
            guard i < raw.count, let p = memchr(raw.baseAddress! + i, 0x0A, raw.count - i) else { return nil }
            return raw.baseAddress!.distance(to: UnsafeRawPointer(p))
        }
    }

    /// Reads what is there; false when Ctrl-C interrupted the wait.
    private func fill() throws(FileError) -> Bool {
        let outcome = withUnsafeTemporaryAllocation(byteCount: 1 << 16, alignment: 16) { chunk -> Int32? in
            while true {
                let n = read(fd, chunk.baseAddress!, chunk.count)
                if n < 0 && errno == EINTR {
                    if Interrupts.isRequested { return EINTR }
                    continue
                }
                if n < 0 { return errno }
                if n == 0 { atEnd = true }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                return nil
            }
        }
        if outcome == EINTR { return false }
        if let outcome { throw .readFailed(path: "standard input", reason: MappedFile.message(outcome)) }
        return true
    }
}
