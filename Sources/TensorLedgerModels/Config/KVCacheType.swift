// How the KV cache stores the keys and values it keeps: f32, or f16 at half the bytes (the
// default: long contexts are read once per token, so their bytes are decoding's cost).

public enum KVCacheType: String, Sendable, CaseIterable {
    case f32, f16

    /// Bytes of one stored value.
    public var bytes: Int { self == .f32 ? 4 : 2 }
}
