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

    /// The width of the terminal standard output is, or nil when it is not one: what
    /// wide tables wrap to. $COLUMNS wins where it is set (as shells and `less` do).
    public static var terminalWidth: Int? {
        guard isatty(1) == 1 else { return nil }
        if let c = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), c > 0 { return c }
        var size = winsize()
        return ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : nil
    }

    private static func write(fd: Int32, _ s: String) {
        var s = s
        // Nothing useful can be done when the terminal or pipe is gone.
        _ = s.withUTF8 { writeAll(fd: fd, UnsafeRawBufferPointer($0)) }
    }
}
