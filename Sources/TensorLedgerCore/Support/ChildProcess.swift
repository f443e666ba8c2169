// Running another program and collecting what it printed: how the tests drive the
// `tensorledger` binary and how the benchmark times it (and llama.cpp).

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ChildProcess {
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that ended the process (as a shell reports it).
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var seconds: Double
        /// The child's peak resident memory, from wait4's rusage.
        public var peakRSSKiB: Int
    }

    /// Runs `executable` with `arguments`, feeding `input` to its standard input (nothing:
    /// /dev/null), until it exits. All three streams are served at once, so neither side
    /// can block the other however much it writes. Nil if the program cannot be started.
    public static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil) -> Result? {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard closedOnExec(&outPipe), closedOnExec(&errPipe), input == nil || closedOnExec(&inPipe) else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [inPipe[0], inPipe[1], outPipe[0], errPipe[0]] where fd >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let clock = Stopwatch()
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        for fd in [inPipe[0], outPipe[1], errPipe[1]] where fd >= 0 { close(fd) }
        guard rc == 0 else {
            for fd in [inPipe[1], outPipe[0], errPipe[0]] where fd >= 0 { close(fd) }
            return nil
        }
        // Writing to a child that has already exited must be an error, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var out: [UInt8] = [], err: [UInt8] = []
        var pending = input ?? []
        var written = 0
        var inFD = inPipe[1]
        if inFD >= 0 && pending.isEmpty { close(inFD); inFD = -1 }
        var outFD = outPipe[0], errFD = errPipe[0]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while outFD >= 0 || errFD >= 0 || inFD >= 0 {
            var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0), pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)]
            if poll(&fds, 3, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for (i, fd) in [outFD, errFD].enumerated() where fd >= 0 && fds[i].revents != 0 {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    if i == 0 { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || errno != EINTR {
                    close(fd)
                    if i == 0 { outFD = -1 } else { errFD = -1 }
                }
            }
            if inFD >= 0 && fds[2].revents != 0 {
                let n = pending.withUnsafeBytes { write(inFD, $0.baseAddress! + written, min($0.count - written, 65536)) }
                if n > 0 { written += n }
                if written == pending.count || (n < 0 && errno != EINTR && errno != EAGAIN) {
                    close(inFD)
                    inFD = -1
                    pending = []
                }
            }
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Result(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
                      stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                      seconds: clock.seconds, peakRSSKiB: Int(usage.ru_maxrss))
    }

    /// A pipe whose ends a spawned program does not inherit (its dup2'd copies it does):
    /// otherwise a program started at the same moment on another thread would hold this
    /// one's write end open, and the reader here would never see the end of its input.
    private static func closedOnExec(_ fds: inout [Int32]) -> Bool { tl_pipe_cloexec(&fds) == 0 }

    /// Starts `executable` without waiting for it; the caller signals it or waits for it
    /// with `waitpid`. Its standard streams are /dev/null, or, given `terminal`, that
    /// pseudo-terminal, which becomes the controlling terminal of a session of its own
    /// (so ^C typed there is its SIGINT).
    public static func start(_ executable: String, _ arguments: [String], terminal: String? = nil) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, terminal ?? "/dev/null", O_RDWR, 0) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        #if os(Linux)
        let setsid: Int16 = 0x80  // glibc's POSIX_SPAWN_SETSID; not exported to Swift
        #else
        let setsid: Int16 = 0x0400  // Darwin's POSIX_SPAWN_SETSID
        #endif
        if terminal != nil { posix_spawnattr_setflags(&attributes, setsid) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        return posix_spawn(&pid, executable, &actions, &attributes, argv, environ) == 0 ? pid : nil
    }
}
