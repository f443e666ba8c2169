// A command on a pseudo-terminal, driven as a person drives it: read the screen until
// something appears, type, press Ctrl-C. Every wait is for a state (text on the screen,
// the line editor's input mode, the process's exit), never for a stretch of time; the
// 20 s bound only turns a hang into a failure.

#if os(Linux)
import Testing
@testable import TensorLedger
import Glibc

final class PseudoTerminal {
    let master: Int32
    let pid: pid_t
    /// Everything the command has written so far.
    private(set) var screen = ""
    /// Where the next `waitFor` starts looking: text before it has been seen.
    private var seen: String.Index

    /// Starts `executable` in a session of its own whose controlling terminal is a new
    /// pseudo-terminal (so Ctrl-C typed there is its SIGINT). Nil if none can be made.
    init?(_ executable: String, _ arguments: [String]) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        // posix_openpt and its friends are not in Swift's Glibc module; these are the ioctls under them.
        var unlock: Int32 = 0, number: UInt32 = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        guard ioctl(master, TIOCSPTLCK, &unlock) == 0, ioctl(master, TIOCGPTN, &number) == 0,
              let pid = ChildProcess.start(executable, arguments, terminal: "/dev/pts/\(number)") else { close(master); return nil }
        (self.master, self.pid) = (master, pid)
        seen = screen.startIndex
    }

    private var status: Int32?

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
        close(master)
    }

    /// Reads until `marker` appears after what was already seen; true when it did. What
    /// follows the marker is left for the next wait.
    @discardableResult
    func waitFor(_ marker: String) -> Bool {
        let clock = Stopwatch()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while clock.seconds < 20 {
            if let r = screen[seen...].firstRange(of: marker) {
                seen = r.upperBound
                return true
            }
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return false }
            if p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = read(master, &buffer, buffer.count)
                if n <= 0 { return false }
                screen += String(decoding: buffer[0..<n], as: UTF8.self)
            }
        }
        return false
    }

    /// Waits until the command reads a line: with libedit, until it has put the terminal
    /// in its own (non-canonical) mode, which discards what was typed before; without it,
    /// the terminal's own line buffer keeps type-ahead, so there is nothing to wait for.
    @discardableResult
    func waitForLineInput() -> Bool {
        guard LineEditor() != nil else { return true }
        let clock = Stopwatch()
        while clock.seconds < 20 {
            // On Linux the master's terminal attributes are the slave's.
            var t = termios()
            if tcgetattr(master, &t) == 0 && t.c_lflag & tcflag_t(ICANON) == 0 { return true }
            usleep(1_000)
        }
        return false
    }

    func type(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) } }

    /// Reads until the command exits; its status as a shell reports it.
    func exitStatus() -> Int32 {
        if let status { return status }
        _ = waitFor("\u{0}")  // reads to the end of the output: the marker never comes
        var s: Int32 = 0
        waitpid(pid, &s, 0)
        status = Self.shellStatus(s)
        return status!
    }

    /// The command's status as a shell reports it if it exits within `seconds`; nil if it
    /// is still running.
    func exitStatus(within seconds: Double) -> Int32? {
        if let status { return status }
        let clock = Stopwatch()
        var s: Int32 = 0
        while clock.seconds < seconds {
            if waitpid(pid, &s, WNOHANG) == pid {
                status = Self.shellStatus(s)
                return status
            }
            usleep(10_000)
        }
        return nil
    }

    private static func shellStatus(_ s: Int32) -> Int32 { s & 0x7f == 0 ? (s >> 8) & 0xff : 128 + s & 0x7f }
}
#endif
