// Which variant of the C kernels runs (chosen once at start-up from the CPU), and a
// way for tests and benchmarks to run a lower one.

import CKernels

public enum KernelISA: Int, CaseIterable, Sendable {
    case portable = 0
    case avx2 = 1
    case avx512VNNI = 2
    case neon = 3
    case neonDotProd = 4

    public var name: String { String(cString: tl_isa_name(tl_isa(rawValue: UInt32(rawValue)))) }

    public static var detected: KernelISA { KernelISA(rawValue: Int(tl_detect_isa().rawValue))! }
    public static var active: KernelISA { KernelISA(rawValue: Int(tl_active_isa().rawValue))! }
    /// Every variant this CPU can run, the portable one first.
    public static var available: [KernelISA] { allCases.filter { tl_isa_supported(tl_isa(rawValue: UInt32($0.rawValue))) != 0 } }

    /// Runs `body` with kernels no better than `isa`, then restores the previous choice.
    /// Not for concurrent use: the choice is process-wide.
    public static func with<T>(_ isa: KernelISA, _ body: () throws -> T) rethrows -> T {
        let previous = tl_active_isa()
        tl_force_isa(tl_isa(rawValue: UInt32(isa.rawValue)))
        defer { tl_force_isa(previous) }
        return try body()
    }
}

/// XXH64 of a byte array (the checksum of .tlm files).
public func xxh64(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { xxh64($0) }
}

public func xxh64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    tl_xxh64(bytes.baseAddress, bytes.count, 0)
}

/// The cores this process may run on (its CPU affinity on Linux): the default thread count.
public func availableCores() -> Int { max(1, Int(tl_available_cores())) }
