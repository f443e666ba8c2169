// A weight matrix as the runner uses it: rows × cols, row-major (rows = output
// features), in one of the stored schemes, read in place from the file mapping when
// stored raw; a GGUF's block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K to Q6_K, IQ4_NL,
// IQ4_XS) are read as stored.
// `multiply` is the one hot spot of decoding: each row is streamed once,
// the rows split across threads in large contiguous chunks.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerModels
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
        /// Rows of ggml blocks, back to back, as a GGUF stores them.
        case blocks(UnsafeRawPointer, type: GGMLType, kernel: tl_block_type)
    }

    public let rows: Int
    public let cols: Int
    public let storage: Storage
    /// Keeps the bytes alive (a file mapping or a decoded buffer).
    package let owner: AnyObject

    /// The .tlm scheme of the storage; nil for the ggml blocks .tlm does not hold (IQ4).
    public var scheme: WeightScheme? {
        switch storage {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8: return .q8
        case .q8Row: return .q8Row
        case .blocks(_, let type, _): return WeightScheme.blockTypes.contains(type) ? .blocks(type) : nil
        }
    }

    /// How the weights are stored, as reports name it: a .tlm scheme ("q8") or a ggml type ("Q4_K").
    public var format: String {
        if case .blocks(_, let type, _) = storage { return type.name }
        return scheme!.rawValue
    }

    public var needsQuantizedInput: Bool { scheme?.isQuantized ?? true }

    /// Whether its products take activations with a scale per 256 values: weights in
    /// super-blocks of 256 (Q2_K … Q6_K, IQ4_XS), as llama.cpp gives them (Q8_K); their
    /// kernels then add a super-block in integers.
    package var takesActivationsPer256: Bool {
        if case .blocks(_, let type, _) = storage { return type.blockLayout.size == 256 }
        return false
    }

    /// Bytes read per full pass over the matrix (what a token costs in bandwidth).
    public var byteCount: Int {
        switch storage {
        case .blocks(_, _, let kernel): return rows * tl_block_row_bytes(kernel, cols)
        default: return TLMTensorEntry.expectedRawBytes(shape: [rows, cols], scheme: scheme!) ?? 0
        }
    }

    /// Rows of `type` blocks used where they lie in `bytes` (a mapping, or a copy with rows reordered).
    package init?(rows: Int, cols: Int, type: GGMLType, bytes: TensorBytes) {
        guard let kernel = type.blockKernel, cols % type.blockLayout.size == 0,
              bytes.bytes.count == rows * tl_block_row_bytes(kernel, cols) else { return nil }
        self.init(rows: rows, cols: cols, storage: .blocks(bytes.bytes.baseAddress!, type: type, kernel: kernel), owner: bytes)
    }

    package init(rows: Int, cols: Int, scheme: WeightScheme, bytes: TensorBytes) {
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
        case .blocks(let type): storage = .blocks(UnsafeRawPointer(base), type: type, kernel: type.blockKernel!)
        }
    }

    private init(rows: Int, cols: Int, storage: Storage, owner: AnyObject) {
        (self.rows, self.cols, self.storage, self.owner) = (rows, cols, storage, owner)
    }

    /// Rows `range` of the matrix, read where they lie (the Q, K and V of a fused
    /// projection). A slice's `bytes` are not one run: it is for the runner only.
    package func rows(_ range: Range<Int>) -> WeightMatrix {
        let first = range.lowerBound * cols
        let sliced: Storage
        switch storage {
        case .f32(let p): sliced = .f32(p + first)
        case .f16(let p): sliced = .f16(p + first)
        case .bf16(let p): sliced = .bf16(p + first)
        case .q8(let q, let scales): sliced = .q8(q + first, scales: scales + first / WeightScheme.blockSize)
        case .q8Row(let q, let scales): sliced = .q8Row(q + first, scales: scales + range.lowerBound)
        case .blocks(let p, let type, let kernel): sliced = .blocks(p + range.lowerBound * tl_block_row_bytes(kernel, cols), type: type, kernel: kernel)
        }
        return WeightMatrix(rows: range.count, cols: cols, storage: sliced, owner: owner)
    }

    /// The matrix's bytes in the .tlm layout of its scheme (or ggml's, for blocks).
    package var bytes: UnsafeRawBufferPointer {
        let base: UnsafeRawPointer
        switch storage {
        case .f32(let p): base = UnsafeRawPointer(p)
        case .f16(let p), .bf16(let p): base = UnsafeRawPointer(p)
        case .q8(let q, _): base = UnsafeRawPointer(q)
        case .q8Row(let q, _): base = UnsafeRawPointer(q)
        case .blocks(let p, _, _): base = p
        }
        return UnsafeRawBufferPointer(start: base, count: byteCount)
    }

    /// Row `r` as f32 (the embedding lookup).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let p): out.update(from: p + r * cols, count: cols)
        case .f16(let p): for c in 0..<cols { out[c] = floatFromHalfBits(p[r * cols + c]) }
        case .bf16(let p): for c in 0..<cols { out[c] = floatFromBFloat16Bits(p[r * cols + c]) }
        case .q8(let q, let s):
            // One f16 scale per block of 32 along the row.
            for b in 0..<(cols / 32) {
                let scale = floatFromHalfBits(s[(r * cols) / 32 + b])
                for c in (32 * b)..<(32 * b + 32) { out[c] = Float(q[r * cols + c]) * scale }
            }
        case .q8Row(let q, let s):
            for c in 0..<cols { out[c] = Float(q[r * cols + c]) * s[r] }
        case .blocks(let p, let type, let kernel):
            let rowBytes = tl_block_row_bytes(kernel, cols)
            GGMLDequantize.dequantize(UnsafeRawBufferPointer(start: p + r * rowBytes, count: rowBytes), type: type, count: cols, into: out)
        }
    }

    /// out[r] = row r · x for r in `range`; `xq` is x quantized when the matrix is int8.
    @inline(__always)
    package func dotRows(_ range: Range<Int>, x: UnsafePointer<Float>, xq: QuantizedActivations?, out: UnsafeMutablePointer<Float>) {
        let n = cols
        switch storage {
        case .f32(let p): for r in range { out[r] = tl_dot_f32(p + r * n, x, n) }
        case .f16(let p): for r in range { out[r] = tl_dot_f16_f32(p + r * n, x, n) }
        case .bf16(let p): for r in range { out[r] = tl_dot_bf16_f32(p + r * n, x, n) }
        case .q8(let q, let s):
            let xv = xq!
            tl_dot_q8_rows(q, s, n, range.lowerBound, range.upperBound, xv.values, xv.scales, out)
        case .q8Row(let q, let s):
            let xv = xq!
            for r in range { out[r] = tl_dot_q8row_q8(q + r * n, s[r], xv.values, xv.scales, n) }
        case .blocks(let p, _, let kernel):
            let xv = xq!
            tl_dot_blocks_rows(kernel, p, n, range.lowerBound, range.upperBound, xv.values, xv.scales, xv.sums, out)
        }
    }
}

extension WeightMatrix {
    /// out[t * rows + r] = row r · x[t] for r in `range` and T tokens (prompt processing),
    /// through the GEMM kernels: each weight row is read (and packed) once for all tokens.
    package func multiplyRows(_ range: Range<Int>, x: UnsafePointer<Float>, tokens T: Int, xq: QuantizedActivations?, out: UnsafeMutablePointer<Float>) {
        let (r0, r1) = (range.lowerBound, range.upperBound)
        switch storage {
        case .f32(let p): tl_gemm_float(p, TL_WEIGHTS_F32, cols, r0, r1, x, T, out, rows)
        case .f16(let p): tl_gemm_float(p, TL_WEIGHTS_F16, cols, r0, r1, x, T, out, rows)
        case .bf16(let p): tl_gemm_float(p, TL_WEIGHTS_BF16, cols, r0, r1, x, T, out, rows)
        case .q8(let q, let s):
            let a = xq!
            tl_gemm_q8(q, s, nil, cols, r0, r1, a.values, a.scales, a.sums, T, a.arranged, out, rows)
        case .q8Row(let q, let s):
            let a = xq!
            tl_gemm_q8(q, nil, s, cols, r0, r1, a.values, a.scales, a.sums, T, a.arranged, out, rows)
        case .blocks(let p, _, let kernel):
            let a = xq!
            tl_gemm_blocks(kernel, p, cols, r0, r1, a.values, a.scales, a.sums, T, a.arranged, out, rows)
        }
    }
}

/// Activations of up to `tokens` tokens quantized in blocks of 32 for the int8 products.
/// Token t of a product with n columns starts at values + t·n (and its scales and block
/// sums at t·n/32): the layout tl_gemm_q8 reads.
package final class QuantizedActivations {
    package let values: UnsafeMutablePointer<Int8>
    package let scales: UnsafeMutablePointer<Float>
    package let sums: UnsafeMutablePointer<Int32>
    package let capacity: Int
    /// The values as the prompt kernels read them (tl_arrange_tokens), arranged once for all
    /// the chunks of a product's rows; nil where the kernels arrange none, and after `set`.
    package var arranged: UnsafeMutableRawPointer? { isArranged ? arrangement : nil }
    private var isArranged = false
    private var arrangement: UnsafeMutableRawPointer?
    private var arrangementBytes = 0

    /// Room for `tokens` rows of up to `width` values.
    package init(tokens: Int, width: Int) {
        capacity = max(tokens * width, 32)
        values = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity / 32)
        sums = .allocate(capacity: capacity / 32)
        reserveArrangement(tl_arranged_tokens_bytes(width, tokens))
    }

    /// The int8 values, their scales and their block sums, and their arrangement.
    package var bytes: Int { capacity + (capacity / 32) * (MemoryLayout<Float>.size + MemoryLayout<Int32>.size) + arrangementBytes }

    private func reserveArrangement(_ bytes: Int) {
        guard bytes > arrangementBytes else { return }
        arrangement?.deallocate()
        arrangement = .allocate(byteCount: bytes, alignment: 64)
        arrangementBytes = bytes
    }

    /// Quantizes the first T rows of x, each n values (rows n apart in x too), with a scale
    /// per 32 values or, `per256`, per 256 (n a multiple of 256): `split` hands ranges of the
    /// tokens to `body`, on as many threads as it likes. Then arranges them where the prompt
    /// kernels read them arranged (AVX2, from 5 tokens).
    package func set(_ x: UnsafePointer<Float>, tokens T: Int, count n: Int, per256: Bool = false,
                     split: (Int, (Range<Int>) -> Void) -> Void = { $1(0..<$0) }) {
        precondition(T * n <= capacity && (!per256 || n % 256 == 0))
        let quantize = per256 ? tl_quantize_activations_256 : tl_quantize_activations
        isArranged = false
        split(T) { tokens in
            let first = tokens.lowerBound * n
            quantize(x + first, tokens.count * n, values + first, scales + first / 32, sums + first / 32)
        }
        let bytes = tl_arranged_tokens_bytes(n, T)
        guard bytes > 0 else { return }
        reserveArrangement(bytes)  // made at init for the most tokens, unless on another kernel variant
        tl_arrange_tokens(values, scales, sums, n, T, arrangement)
        isArranged = true
    }

    deinit {
        values.deallocate()
        scales.deallocate()
        sums.deallocate()
        arrangement?.deallocate()
    }
}
