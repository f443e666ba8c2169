// Which variant of the C kernels runs: the best the CPU supports, detected once at
// start-up, unless a thread asks for a lower one. The choice belongs to the thread (and a
// model's workers take their model's), so one model's or test's choice never changes
// another's.

import CKernels

public enum KernelISA: Int, CaseIterable, Sendable {
    case portable = 0
    case avx2 = 1
    case avx512VNNI = 2
    case neon = 3
    case neonDotProd = 4

    public var name: String { String(cString: tl_isa_name(tl_isa(rawValue: UInt32(rawValue)))) }

    public static var detected: KernelISA { KernelISA(rawValue: Int(tl_detect_isa().rawValue))! }
    /// The variant the calling thread uses.
    public static var active: KernelISA { KernelISA(rawValue: Int(tl_active_isa().rawValue))! }
    /// Every variant this CPU can run, the portable one first.
    public static var available: [KernelISA] { allCases.filter { tl_isa_supported(tl_isa(rawValue: UInt32($0.rawValue))) != 0 } }

    /// Runs `body` on this thread with the `isa` variant (the portable one where the CPU
    /// lacks it), then restores the thread's previous choice. Other threads are unaffected.
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
