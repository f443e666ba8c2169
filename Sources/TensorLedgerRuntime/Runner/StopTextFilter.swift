// Streaming text that ends where a stop string begins (chat's end of turn, run's --stop),
// never showing the stop string: what could still become one is held back until the next
// piece decides.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

package struct StopTextFilter {
    package let stops: [String]
    private var pending = ""

    package init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// The text that is safe to show, and whether a stop string has appeared.
    package mutating func append(_ piece: String) -> (ready: String, stopped: Bool) {
        pending += piece
        if stops.isEmpty { defer { pending = "" }; return (pending, false) }
        if let first = stops.compactMap({ pending.firstRange(of: $0)?.lowerBound }).min() {
            defer { pending = "" }
            return (String(pending[..<first]), true)
        }
        // Hold back the longest tail that some stop string begins with.
        var held = min(pending.count, (stops.map(\.count).max() ?? 1) - 1)
        while held > 0 && !stops.contains(where: { $0.hasPrefix(pending.suffix(held)) }) { held -= 1 }
        let ready = String(pending.dropLast(held))
        pending = String(pending.suffix(held))
        return (ready, false)
    }

    /// What was held back, once no more text comes (after `last`, if given).
    package mutating func finish(adding last: String = "") -> String {
        let (ready, stopped) = append(last)
        if stopped { return ready }
        defer { pending = "" }
        return ready + pending
    }
}
