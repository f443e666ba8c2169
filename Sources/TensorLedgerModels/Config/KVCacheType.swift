// How the KV cache stores the keys and values it keeps: f32; f16 at half the bytes (the
// default: long contexts are read once per token, so their bytes are decoding's cost); or
// q8, ggml's Q8_0 blocks (32 int8 values and an f16 scale, 34 bytes), at 53% of f16's.

public enum KVCacheType: String, Sendable, CaseIterable {
    case f32, f16, q8

    /// Bytes that `values` values take (a multiple of 32 for q8: see `fits(headDim:)`).
    public func bytes(values n: Int) -> Int {
        switch self {
        case .f32: return 4 * n
        case .f16: return 2 * n
        case .q8: return n / 32 * 34
        }
    }

    /// Whether one head's keys (or values) are whole blocks of the type: a q8 block never
    /// straddles two heads or positions.
    public func fits(headDim: Int) -> Bool { self != .q8 || (headDim > 0 && headDim % 32 == 0) }
}
