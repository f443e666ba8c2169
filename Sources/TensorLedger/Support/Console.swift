// Unbuffered writes to stdout and stderr, and whether they are terminals: the runner
// streams tokens as they are made, and progress bars show only on a terminal.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Console {
    /// A reader that went away (`run … | head -c 10`) ends the output: the process stops
    /// quietly, with status 0, as it would had the text been read to the end. (SIGPIPE is
    /// ignored at start-up so that this is a write error instead of a kill.)
    public static func writeOut(_ s: String) {
        var s = s
        if s.withUTF8({ writeAll(fd: 1, UnsafeRawBufferPointer($0)) }) == EPIPE { exit(0) }
    }
    public static func writeErr(_ s: String) { write(fd: 2, s) }

    public static var stderrIsTerminal: Bool { isatty(2) == 1 }
    public static var stdinIsTerminal: Bool { isatty(0) == 1 }

    private static func write(fd: Int32, _ s: String) {
        var s = s
        // Nothing useful can be done when the terminal or pipe is gone.
        _ = s.withUTF8 { writeAll(fd: fd, UnsafeRawBufferPointer($0)) }
    }
}
