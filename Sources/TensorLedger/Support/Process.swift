// Process-wide helpers: the version, a monotonic clock, glob matching, and removal
// of a half-written output when the process is interrupted.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TensorLedgerVersion {
    public static let string = "0.1.0"
}

/// Seconds from an arbitrary fixed point; for measuring durations.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// This process's resident memory in bytes now: Linux's VmRSS. (The peak figures, VmHWM
/// and getrusage's maxrss, were seen to start from the parent's when a process is started
/// by posix_spawn.) Elsewhere getrusage's peak.
public func residentBytes() -> Int {
    #if os(Linux)
    // /proc files report a size of 0: read until the end.
    var status: [UInt8] = []
    let fd = open("/proc/self/status", O_RDONLY)
    if fd >= 0 {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while status.count < 1 << 16 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            status += buffer[0..<n]
        }
        close(fd)
    }
    if let line = String(decoding: status, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
       let kib = Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") {
        return kib * 1024
    }
    #endif
    var usage = rusage()
    #if canImport(Darwin)
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #else
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #endif
}

/// Shell-style matching of `*` (any run) and `?` (one character).
public func globMatch(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
            pi += 1; ti += 1
        } else if pi < p.count && p[pi] == "*" {
            star = pi; mark = ti; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; ti = mark
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}

/// The temporary file of an output being written, removed if SIGINT, SIGTERM or SIGHUP
/// arrive before it is complete (SIGKILL cannot be caught; the file's hidden
/// `.NAME.partial-XXXXXX` name keeps it from ever looking like a finished output).
public enum TemporaryFiles {
    nonisolated(unsafe) private static var path = [CChar](repeating: 0, count: 4097)
    nonisolated(unsafe) private static var installed = false

    public static func register(_ p: String) {
        let c = Array(p.utf8CString.prefix(4096))
        for i in 0..<c.count { path[i] = c[i] }
        path[min(c.count, 4096)] = 0
        if !installed {
            installed = true
            for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, onSignal) }
        }
    }

    public static func unregister() { path[0] = 0 }

    private static let onSignal: @convention(c) (Int32) -> Void = { sig in
        TemporaryFiles.path.withUnsafeBufferPointer { buf in
            if buf[0] != 0 { unlink(buf.baseAddress!) }
        }
        _exit(128 + sig)
    }
}
