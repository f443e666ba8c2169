// zstd frames through the system libzstd, and the byte-plane filter that lets it find
// the redundancy in float data (the exponent bytes of weights are nearly constant).

import CZstd

public enum ZstdError: TensorLedgerError, Equatable {
    case failed(String)
    case sizeMismatch(expected: Int, found: Int)

    /// A frame that does not decode is damaged input (compressing does not fail on good input).
    public var category: ErrorCategory { .badInput }

    public var description: String {
        switch self {
        case .failed(let m): return "zstd: \(m)"
        case .sizeMismatch(let e, let f): return "zstd frame holds \(f) bytes, expected \(e)"
        }
    }
}

public enum Zstd {
    public static var versionString: String { String(cString: ZSTD_versionString()) }

    public static func compressBound(_ n: Int) -> Int { ZSTD_compressBound(n) }

    /// Compresses `src` into one frame (with zstd's own content checksum) and returns it.
    public static func compress(_ src: UnsafeRawBufferPointer, level: Int32) throws(ZstdError) -> [UInt8] {
        guard let cctx = ZSTD_createCCtx() else { throw .failed("cannot create a compression context") }
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(src.count))
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        }
        if ZSTD_isError(n) != 0 { throw .failed(String(cString: ZSTD_getErrorName(n))) }
        out.removeLast(out.count - n)
        return out
    }

    /// Decompresses one frame into exactly `dst.count` bytes; anything else is an error.
    public static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(ZstdError) {
        guard let dctx = ZSTD_createDCtx() else { throw .failed("cannot create a decompression context") }
        defer { ZSTD_freeDCtx(dctx) }
        let n = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(n) != 0 { throw .failed(String(cString: ZSTD_getErrorName(n))) }
        if n != dst.count { throw .sizeMismatch(expected: dst.count, found: n) }
    }
}

/// Splits elements of `width` bytes into `width` planes (all first bytes, then all second
/// bytes, ...). `merge` undoes it.
public enum BytePlanes {
    public static func split(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        for p in 0..<width {
            let base = p * n
            for i in 0..<n { dst[base + i] = src[i * width + p] }
        }
    }

    public static func merge(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        for p in 0..<width {
            let base = p * n
            for i in 0..<n { dst[i * width + p] = src[base + i] }
        }
    }
}
