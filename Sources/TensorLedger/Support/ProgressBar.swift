// A one-line progress bar on stderr, redrawn at most ten times a second.

public final class ProgressBar {
    let label: String
    private var lastDraw = 0.0
    private let start = monotonicSeconds()

    public init(label: String) { self.label = label }

    public func update(_ done: Int, of total: Int) {
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        let width = 30
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let filled = Int(fraction * Double(width))
        let rate = Double(done) / max(now - start, 1e-6) / 1e6
        Console.writeErr("\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) +
                         "] \(formatFixed(fraction * 100, 0))% \(formatFixed(rate, 0)) MB/s ")
    }

    public func finish() { Console.writeErr("\r\u{1B}[K") }
}
