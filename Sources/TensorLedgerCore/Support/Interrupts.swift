// Ctrl-C and termination signals. Long work (generation, perplexity, conversion, a chat
// reply) asks to be stopped gracefully: a first SIGINT only sets a flag that the work
// checks at its next safe point, so the command can report what it did (exit 130). A
// second SIGINT, SIGTERM or SIGHUP ends the process at once. Either way the temporary
// file of an output being written is removed: SIGKILL cannot be caught, and the file's
// hidden `.NAME.partial-XXXXXX` name keeps it from ever looking like a finished output.

import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Interrupts {
    private static let requested = Atomic<Bool>(false)
    private static let graceful = Atomic<Bool>(false)
    private static let installed = Atomic<Bool>(false)
    /// A wait for a person's input is under way (whileWaitingForInput).
    private static let waiting = Atomic<Bool>(false)

    /// Whether Ctrl-C has asked the work in progress to stop.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Forgets an earlier Ctrl-C (a chat goes on after a stopped reply).
    public static func clear() { requested.store(false, ordering: .relaxed) }

    /// From now on a first Ctrl-C sets `isRequested` instead of ending the process.
    public static func stopGracefully() {
        graceful.store(true, ordering: .relaxed)
        install()
    }

    /// A Ctrl-C also interrupts a read waiting for input (no SA_RESTART), so that a prompt
    /// waiting for a person can say how to quit instead of ignoring the key.
    public static func interruptReads() {
        stopGracefully()
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = onSignal
        #else
        action.__sigaction_u.__sa_handler = onSignal
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGALRM, &action, nil)
        unblock([SIGALRM])
    }

    /// Runs `read`, a wait for a person's input, so that a Ctrl-C ends it wherever it lands.
    /// One caught after the wait began but before the read blocked (the line editor turns
    /// the terminal raw first) interrupts nothing, nor does one taken by another thread. So
    /// the handler also starts a timer whose signal, ignored, interrupts whatever read is
    /// blocked every 50 ms until the wait is over: however long the process is held up
    /// before its read (a loaded machine), the read that follows is ended. Returns nil
    /// without reading when a Ctrl-C came before.
    public static func whileWaitingForInput<T>(_ read: () throws -> T?) rethrows -> T? {
        waiting.store(true, ordering: .sequentiallyConsistent)
        defer {
            waiting.store(false, ordering: .sequentiallyConsistent)
            setTicks(on: false)
        }
        if isRequested { return nil }
        return try read()
    }

    /// SIGALRM every 50 ms, or none. Async-signal-safe: one system call.
    private static func setTicks(on: Bool) {
        let period = timeval(tv_sec: 0, tv_usec: on ? 50_000 : 0)
        var timer = itimerval(it_interval: period, it_value: period)
        #if canImport(Glibc)
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
        #else
        setitimer(ITIMER_REAL, &timer, nil)
        #endif
    }

    /// The exit status of a command stopped by Ctrl-C, as a shell reports it.
    public static let exitStatus: Int32 = 128 + SIGINT

    package static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        // Globals are initialized on first use, which must not happen inside the handler.
        _ = graceful.load(ordering: .relaxed)
        _ = requested.load(ordering: .relaxed)
        _ = waiting.load(ordering: .relaxed)
        TemporaryFiles.touch()
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, onSignal) }
        unblock([SIGINT, SIGTERM, SIGHUP])
    }

    /// A parent may have started us with signals blocked (the mask is inherited; Swift
    /// Testing's threads block most): those we handle must come through.
    private static func unblock(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    private static let onSignal: @convention(c) (Int32) -> Void = { sig in
        if sig == SIGALRM {
            // whileWaitingForInput's ticks: their work is interrupting the read. One that
            // outlived the wait (a Ctrl-C handled on another thread as the wait ended) stops them.
            if !waiting.load(ordering: .sequentiallyConsistent) { setTicks(on: false) }
            return
        }
        if sig == SIGINT && graceful.load(ordering: .relaxed) && !requested.exchange(true, ordering: .relaxed) {
            if waiting.load(ordering: .sequentiallyConsistent) { setTicks(on: true) }
            return
        }
        TemporaryFiles.removeNow()
        _exit(128 + sig)
    }
}

/// The one output file being written, removed if the process is ended before it is complete.
public enum TemporaryFiles {
    nonisolated(unsafe) private static var path = [CChar](repeating: 0, count: 4097)

    public static func register(_ p: String) {
        let c = Array(p.utf8CString.prefix(4096))
        for i in 0..<c.count { path[i] = c[i] }
        path[min(c.count, 4096)] = 0
        Interrupts.install()
    }

    public static func unregister() { path[0] = 0 }

    package static func touch() { _ = path.count }

    /// Async-signal-safe: only unlink(2) on a buffer allocated beforehand.
    package static func removeNow() {
        path.withUnsafeBufferPointer { buf in
            if buf[0] != 0 { unlink(buf.baseAddress!) }
        }
    }
}
