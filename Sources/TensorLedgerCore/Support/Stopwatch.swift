// Durations for the reports (load, prompt, generation, conversion), from the standard
// library's monotonic ContinuousClock.

public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    public init() {}

    /// Seconds since the stopwatch was made.
    public var seconds: Double { (ContinuousClock.now - start).seconds }
}

extension Duration {
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
