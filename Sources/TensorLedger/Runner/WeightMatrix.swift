// A weight matrix as the runner uses it: rows × cols, row-major (rows = output
// features), in one of the stored schemes, read in place from the file mapping when
// stored raw. `multiply` is the one hot spot of decoding: each row is streamed once,
// the rows split across threads in large contiguous chunks.

import CKernels

public struct WeightMatrix: @unchecked Sendable {
    public enum Storage {
        case f32(UnsafePointer<Float>)
        case f16(UnsafePointer<UInt16>)
        case bf16(UnsafePointer<UInt16>)
        /// int8 rows and one f16 scale per block of 32.
        case q8(UnsafePointer<Int8>, scales: UnsafePointer<UInt16>)
        /// int8 rows and one f32 scale per row.
        case q8Row(UnsafePointer<Int8>, scales: UnsafePointer<Float>)
    }

    public let rows: Int
    public let cols: Int
    public let storage: Storage
    /// Keeps the bytes alive (a file mapping or a decoded buffer).
    let owner: AnyObject

    public var scheme: WeightScheme {
        switch storage {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8: return .q8
        case .q8Row: return .q8Row
        }
    }

    public var needsQuantizedInput: Bool { scheme.isQuantized }

    /// Bytes read per full pass over the matrix (what a token costs in bandwidth).
    public var byteCount: Int { TLMTensorEntry.expectedRawBytes(shape: [rows, cols], scheme: scheme) ?? 0 }

    init(rows: Int, cols: Int, scheme: WeightScheme, bytes: TensorBytes) {
        self.rows = rows
        self.cols = cols
        owner = bytes
        let base = bytes.bytes.baseAddress!
        let scales = base + TLMFormat.align(rows * cols)
        switch scheme {
        case .f32: storage = .f32(base.assumingMemoryBound(to: Float.self))
        case .f16: storage = .f16(base.assumingMemoryBound(to: UInt16.self))
        case .bf16: storage = .bf16(base.assumingMemoryBound(to: UInt16.self))
        case .q8: storage = .q8(base.assumingMemoryBound(to: Int8.self), scales: scales.assumingMemoryBound(to: UInt16.self))
        case .q8Row: storage = .q8Row(base.assumingMemoryBound(to: Int8.self), scales: scales.assumingMemoryBound(to: Float.self))
        }
    }

    /// Row `r` as f32 (the embedding lookup).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let p): out.update(from: p + r * cols, count: cols)
        case .f16(let p): for c in 0..<cols { out[c] = floatFromHalfBits(p[r * cols + c]) }
        case .bf16(let p): for c in 0..<cols { out[c] = floatFromBFloat16Bits(p[r * cols + c]) }
        case .q8(let q, let s):
            for c in 0..<cols { out[c] = Float(q[r * cols + c]) * floatFromHalfBits(s[(r * cols + c) / 32]) }
        case .q8Row(let q, let s):
            for c in 0..<cols { out[c] = Float(q[r * cols + c]) * s[r] }
        }
    }

    /// out[r] = row r · x for r in `range`; `xq` is x quantized when the matrix is int8.
    @inline(__always)
    func dotRows(_ range: Range<Int>, x: UnsafePointer<Float>, xq: QuantizedVector?, out: UnsafeMutablePointer<Float>) {
        let n = cols
        switch storage {
        case .f32(let p): for r in range { out[r] = tl_dot_f32(p + r * n, x, n) }
        case .f16(let p): for r in range { out[r] = tl_dot_f16_f32(p + r * n, x, n) }
        case .bf16(let p): for r in range { out[r] = tl_dot_bf16_f32(p + r * n, x, n) }
        case .q8(let q, let s):
            let xv = xq!
            for r in range { out[r] = tl_dot_q8_q8(q + r * n, s + r * (n / 32), xv.values, xv.scales, n) }
        case .q8Row(let q, let s):
            let xv = xq!
            for r in range { out[r] = tl_dot_q8row_q8(q + r * n, s[r], xv.values, xv.scales, n) }
        }
    }
}

extension WeightMatrix {
    /// For q8 matrices: rows in `range` against four quantized inputs at once, writing
    /// out[k * stride + r]. Returns false (doing nothing) for other schemes.
    @inline(__always)
    func dotRows4(_ range: Range<Int>, xq: UnsafePointer<QuantizedVector>, out: UnsafeMutablePointer<Float>, stride: Int) -> Bool {
        guard case .q8(let q, let s) = storage else { return false }
        let n = cols
        var xs: (UnsafePointer<Int8>?, UnsafePointer<Int8>?, UnsafePointer<Int8>?, UnsafePointer<Int8>?) =
            (UnsafePointer(xq[0].values), UnsafePointer(xq[1].values), UnsafePointer(xq[2].values), UnsafePointer(xq[3].values))
        var ss: (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?) =
            (UnsafePointer(xq[0].scales), UnsafePointer(xq[1].scales), UnsafePointer(xq[2].scales), UnsafePointer(xq[3].scales))
        var result: (Float, Float, Float, Float) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &xs) { xp in
            withUnsafeMutablePointer(to: &ss) { sp in
                withUnsafeMutablePointer(to: &result) { rp in
                    let xv = UnsafeRawPointer(xp).assumingMemoryBound(to: UnsafePointer<Int8>?.self)
                    let sv = UnsafeRawPointer(sp).assumingMemoryBound(to: UnsafePointer<Float>?.self)
                    let rv = UnsafeMutableRawPointer(rp).assumingMemoryBound(to: Float.self)
                    for r in range {
                        tl_dot_q8_q8_x4(q + r * n, s + r * (n / 32), xv, sv, n, rv)
                        for k in 0..<4 { out[k * stride + r] = rv[k] }
                    }
                }
            }
        }
        return true
    }
}

/// Activations quantized in blocks of 32 for the int8 products.
public struct QuantizedVector {
    let values: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let count: Int

    init(capacity: Int) {
        count = capacity
        values = .allocate(capacity: max(capacity, 32))
        scales = .allocate(capacity: max(capacity / 32, 1))
    }

    func set(_ x: UnsafePointer<Float>, count n: Int) { tl_quantize_activations(x, n, values, scales) }

    func free() {
        values.deallocate()
        scales.deallocate()
    }
}
