// Lines typed at a terminal, with the arrow keys, editing and history of the system's
// libedit where it is installed (it comes with the Swift toolchain on Linux and with
// macOS), loaded when first needed: nothing to build against, and plain lines without it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class LineEditor {
    private typealias ReadLine = @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?
    private typealias AddHistory = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private let readline: ReadLine
    private let addHistory: AddHistory?

    /// nil where no libedit can be loaded.
    public init?() {
        let names = ["libedit.so.2", "libedit.so", "libedit.3.dylib", "/usr/lib/libedit.3.dylib"]
        guard let handle = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_LOCAL) }).first,
              let read = dlsym(handle, "readline") else { return nil }
        readline = unsafeBitCast(read, to: ReadLine.self)
        // Signals are the program's: Ctrl-C ends the read (Interrupts.interruptReads), not the line editor's.
        dlsym(handle, "rl_catch_signals")?.assumingMemoryBound(to: Int32.self).pointee = 0
        addHistory = dlsym(handle, "add_history").map { unsafeBitCast($0, to: AddHistory.self) }
    }

    /// The next line without its newline, after showing `prompt`; nil at the end of input
    /// (Ctrl-D) or when a signal interrupted the read. Lines with text go into the history
    /// (the up arrow brings them back).
    public func readLine(prompt: String) -> String? {
        guard let raw = prompt.withCString({ readline($0) }) else { return nil }
        defer { free(raw) }
        let line = String(cString: raw)
        if !line.allSatisfy(\.isWhitespace) { _ = addHistory?(raw) }
        return line
    }
}
