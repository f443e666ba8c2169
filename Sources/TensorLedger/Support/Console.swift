// Unbuffered writes to stdout and stderr, and whether they are terminals: the runner
// streams tokens as they are made, and progress bars show only on a terminal.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Console {
    public static func writeOut(_ s: String) { write(fd: 1, s) }
    public static func writeErr(_ s: String) { write(fd: 2, s) }

    public static var stderrIsTerminal: Bool { isatty(2) == 1 }

    private static func write(fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { buf in
            var p = buf.baseAddress
            var left = buf.count
            while left > 0, let q = p {
                let n = Glibc.write(fd, q, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                p = q + n
                left -= n
            }
        }
    }
}
