// How much memory this process holds, and the machine has, for the reports that print it.

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

/// The memory this process may use: the machine's physical memory, or its control group's
/// limit where that is lower (a container's). nil where the system does not say.
public func machineMemoryBytes() -> Int? {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, pageSize > 0 else { return nil }
    var bytes = pages.multipliedReportingOverflow(by: pageSize).overflow ? Int.max : pages * pageSize
    #if os(Linux)
    // cgroup v2 writes "max" when there is no limit.
    if let text = try? readWholeFile("/sys/fs/cgroup/memory.max", limit: 64),
       let limit = Int(String(decoding: text, as: UTF8.self).split(separator: "\n").first ?? ""), limit > 0 {
        bytes = min(bytes, limit)
    }
    #endif
    return bytes
}
