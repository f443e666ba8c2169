// A one-line progress bar on stderr, redrawn at most ten times a second. Commands show it
// only when stderr is a terminal.

public final class ProgressBar {
    public enum Unit: Sendable {
        case bytes, tokens
    }

    package let label: String
    package let unit: Unit
    private var lastDraw = -1.0
    private let clock = Stopwatch()

    public init(label: String, unit: Unit = .bytes) {
        self.label = label
        self.unit = unit
    }

    public func update(_ done: Int, of total: Int) {
        let now = clock.seconds
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        let width = 30
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int(fraction * Double(width))
        let perSecond = Double(done) / max(now, 1e-6)
        let rate = unit == .bytes ? "\(formatFixed(perSecond / 1e6, 0)) MB/s" : "\(formatFixed(perSecond, 0)) tokens/s"
        Console.writeErr("\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) +
                         "] \(formatFixed(fraction * 100, 0))% \(rate) ")
    }

    public func finish() { Console.writeErr("\r\u{1B}[K") }
}
