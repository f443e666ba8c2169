// Byte strings looked up as a trie without a node per byte: the strings are kept sorted,
// and those that share the first k bytes of a text form one contiguous range, narrowed
// one byte at a time by binary search. Memory is the strings themselves, so one 12 MB
// added token costs 12 MB, not a node for each of its bytes.

import TensorLedgerCore
import TensorLedgerFormats

package struct ByteTrie: Sendable {
    private let keys: [[UInt8]]
    private let ids: [Int32]

    /// Entries with equal bytes keep the first one's id; empty entries are left out.
    package init(_ entries: [([UInt8], Int)]) {
        let order = entries.indices.filter { !entries[$0].0.isEmpty }.sorted { a, b in
            entries[a].0 == entries[b].0 ? a < b : entries[a].0.lexicographicallyPrecedes(entries[b].0)
        }
        var keys: [[UInt8]] = [], ids: [Int32] = []
        for i in order where keys.last != entries[i].0 {
            keys.append(entries[i].0)
            ids.append(Int32(entries[i].1))
        }
        self.keys = keys
        self.ids = ids
    }

    /// Calls `body(length, id)` for each entry that `bytes` holds at `start`, shortest first.
    package func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, at start: Int, _ body: (Int, Int) -> Void) {
        var lo = 0, hi = keys.count, k = 0
        while lo < hi {
            // Every key in lo..<hi starts with bytes[start..<start + k]; the one that is no
            // longer sorts first.
            if k > 0 && keys[lo].count == k {
                body(k, Int(ids[lo]))
                lo += 1
                if lo == hi { break }
            }
            guard start + k < bytes.count else { break }
            let b = bytes[start + k]
            lo = firstIndex(lo, hi) { $0[k] >= b }
            hi = firstIndex(lo, hi) { $0[k] > b }
            k += 1
        }
    }

    /// The id and length of the longest entry that `bytes` holds at `start`.
    package func longestMatch(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (id: Int, length: Int)? {
        var best: (Int, Int)?
        forEachMatch(in: bytes, at: start) { length, id in best = (id, length) }
        return best
    }

    /// The first index in lo..<hi whose key satisfies `atOrPast` (keys in the range are
    /// ordered by it).
    private func firstIndex(_ lo: Int, _ hi: Int, _ atOrPast: ([UInt8]) -> Bool) -> Int {
        var lo = lo, hi = hi
        while lo < hi {
            let mid = (lo + hi) / 2
            if atOrPast(keys[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
