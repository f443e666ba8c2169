// "Did you mean": the known name closest to a mistyped one, by edit distance.

/// The name in `names` within two edits of `typed` (one for names of up to four letters),
/// the closest first; nil when none is that close.
public func closestName(to typed: String, among names: [String]) -> String? {
    let scored = names.map { ($0, editDistance(Array(typed.lowercased().unicodeScalars), Array($0.lowercased().unicodeScalars))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= (best.0.count <= 4 ? 1 : 2) ? best.0 : nil
}

/// Levenshtein distance (insertions, deletions, substitutions), one row at a time.
package func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
            previous = row[j]
            row[j] = min(substitution, row[j] + 1, row[j - 1] + 1)
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}
