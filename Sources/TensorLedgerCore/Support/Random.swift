// Seeded random numbers: synthetic checkpoints and sampling are reproducible from a seed.

/// A small, fast, seedable generator (SplitMix64) so synthetic checkpoints are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An approximately normal value with mean 0 and standard deviation `std`
    /// (the sum of four uniform 16-bit draws).
    public mutating func nextGaussianish(std: Float) -> Float {
        let r = next()
        let s = Float(r & 0xFFFF) + Float((r >> 16) & 0xFFFF) + Float((r >> 32) & 0xFFFF) + Float(r >> 48)
        // Sum of four U(0, 65536) has mean 131070 and standard deviation 65536·sqrt(1/3).
        return (s - 131_070) * (std / 37_837.2)
    }
}
