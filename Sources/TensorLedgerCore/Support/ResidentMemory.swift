// How much memory this process holds, for the reports that print it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This process's resident memory in bytes now: Linux's VmRSS. (The peak figures, VmHWM
/// and getrusage's maxrss, were seen to start from the parent's when a process is started
/// by posix_spawn.) Elsewhere getrusage's peak.
public func residentBytes() -> Int {
    #if os(Linux)
    // /proc files report a size of 0: read until the end.
    if let status = try? readWholeFile("/proc/self/status", limit: 1 << 16),
       let line = String(decoding: status, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
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
