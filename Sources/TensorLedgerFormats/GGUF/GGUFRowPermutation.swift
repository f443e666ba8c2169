// llama.cpp's converter reorders the rows of the llama architecture's Q and K matrices so
// that ggml's RoPE rotates adjacent pairs: within each head, Hugging Face's rows j and
// j + half are stored as rows 2j and 2j + 1. Declared once: the GGUF reader undoes it, the
// GGUF writer applies it, and errors name a row where the checkpoint holds it.

import TensorLedgerCore

public struct GGUFRowPermutation: Sendable, Equatable {
    public let rows: Int
    public let heads: Int
    private var rowsPerHead: Int { rows / heads }

    /// Refuses a matrix whose rows do not split into `heads` heads of an even number of rows
    /// (a division by zero or a half-head otherwise).
    public init(rows: Int, heads: Int, tensor: String, file: String) throws(GGUFError) {
        guard heads > 0, rows > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw .tensor(file: file, tensor: tensor, reason: "its \(rows) rows do not split into \(heads) attention heads of an even number of rows each")
        }
        self.rows = rows
        self.heads = heads
    }

    /// The stored row that holds Hugging Face's row `r`.
    public func storedRow(_ r: Int) -> Int {
        let dh = rowsPerHead, half = dh / 2, k = r % dh
        return r - k + 2 * (k % half) + k / half
    }

    /// Hugging Face's row for stored row `s`.
    public func sourceRow(_ s: Int) -> Int {
        let dh = rowsPerHead, k = s % dh
        return s - k + (k % 2) * (dh / 2) + k / 2
    }

    /// Reorders `rows` rows of `cols` values from Hugging Face's order into the stored one.
    public func apply(to x: UnsafeMutablePointer<Float>, cols: Int) {
        let copy = Array(UnsafeBufferPointer(start: x, count: rows * cols))
        copy.withUnsafeBufferPointer { from in
            for r in 0..<rows { (x + storedRow(r) * cols).update(from: from.baseAddress! + r * cols, count: cols) }
        }
    }
}
