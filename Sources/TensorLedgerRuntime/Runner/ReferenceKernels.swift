// Plain Swift twins of the C kernels (dot products, attention, transposes, quantizers;
// a GEMM's twin is the dot product of every row with every token): the definition of
// what each computes, and what the tests compare every CPU variant against.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ReferenceKernels {
    /// GPT-2's GELU, the tanh approximation ("gelu_new"), one value at a time.
    public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044715 * x * x * x)))
    }

    /// SiLU, g / (1 + e^−g): SwiGLU's activation of the gate.
    public static func silu(_ g: Float) -> Float { g / (1 + expf(-g)) }

    /// {Σa², Σb², Σa·b, Σ(b−a)², max |b−a|} in f64: what tl_compare_f32 computes.
    public static func compare(_ a: [Float], _ b: [Float]) -> [Double] {
        var s = [Double](repeating: 0, count: 5)
        for (x, y) in zip(a, b) {
            let (x, y) = (Double(x), Double(y))
            s[0] += x * x; s[1] += y * y; s[2] += x * y; s[3] += (y - x) * (y - x)
            s[4] = max(s[4], Double(abs(Float(y) - Float(x))))
        }
        return s
    }

    public static func dotF32(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    public static func dotF16(_ a: [UInt16], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(floatFromHalfBits($1.0)) * Double($1.1) }
    }

    public static func dotBF16(_ a: [UInt16], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(floatFromBFloat16Bits($1.0)) * Double($1.1) }
    }

    /// Σ over blocks of 32: (w scale · x scale) · Σ w·x, the block sums exact in integers.
    public static func dotQ8(_ w: [Int8], scales ws: [UInt16], _ x: [Int8], scales xs: [Float]) -> Double {
        var s = 0.0
        for b in 0..<(w.count / 32) {
            var block = 0
            for i in (32 * b)..<(32 * b + 32) { block += Int(w[i]) * Int(x[i]) }
            s += Double(floatFromHalfBits(ws[b])) * Double(xs[b]) * Double(block)
        }
        return s
    }

    public static func dotQ8Row(_ w: [Int8], scale: Float, _ x: [Int8], scales xs: [Float]) -> Double {
        var s = 0.0
        for b in 0..<(w.count / 32) {
            var block = 0
            for i in (32 * b)..<(32 * b + 32) { block += Int(w[i]) * Int(x[i]) }
            s += Double(xs[b]) * Double(block)
        }
        return s * Double(scale)
    }

    /// A row of ggml blocks against quantized activations: the row's values as
    /// GGMLDequantize gives them (as gguf-py does), times each activation, in f64; with
    /// Σ|w·x|, the scale of the rounding a float kernel may add.
    public static func dotBlocks(_ row: [UInt8], type: GGMLType, _ x: [Int8], scales xs: [Float]) -> (value: Double, magnitude: Double) {
        var w = [Float](repeating: 0, count: x.count)
        row.withUnsafeBytes { raw in w.withUnsafeMutableBufferPointer { GGMLDequantize.dequantize(raw, type: type, count: x.count, into: $0.baseAddress!) } }
        let terms = x.indices.map { Double(w[$0]) * Double(xs[$0 / 32]) * Double(x[$0]) }
        return (terms.reduce(0, +), terms.reduce(0) { $0 + abs($1) })
    }

    /// A (rows, cols) matrix as (cols, rows).
    public static func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        (0..<(rows * cols)).map { i in x[(i % rows) * cols + i / rows] }
    }

    /// One head, one query: softmax over scale·(q · k_p) (capped softly to cap·tanh(s/cap)
    /// when cap > 0), then Σ softmax_p · v_p.
    public static func attend(_ q: [Float], keys: [[Float]], values: [[Float]], scale: Float, cap: Float = 0) -> [Double] {
        let scores = keys.map { Double(scale) * dotF32(q, $0) }.map { cap > 0 ? Double(cap) * tanh($0 / Double(cap)) : $0 }
        let top = scores.max() ?? 0
        let e = scores.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        var out = [Double](repeating: 0, count: q.count)
        for (w, v) in zip(e, values) { for i in out.indices { out[i] += w / sum * Double(v[i]) } }
        return out
    }

    /// Activations in blocks of 32: d = max|x| / 127 in f32 over each `span` values (32, or
    /// 256 for the products over 256-value block types), q = round(x / d) halves away; the
    /// scale written for each block of 32.
    public static func quantizeActivations(_ x: [Float], span: Int = 32) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: x.count)
        var scales: [Float] = []
        for g in 0..<(x.count / span) {
            let group = x[(span * g)..<(span * g + span)]
            let d = group.reduce(Float(0)) { max($0, abs($1)) } / 127
            scales += [Float](repeating: d, count: span / 32)
            if d > 0 { for i in group.indices { q[i] = Int8((x[i] / d).rounded(.toNearestOrAwayFromZero)) } }
        }
        return (q, scales)
    }
}

/// The C kernels as the active CPU variant runs them, for tests and benchmarks.
public enum Kernels {
    public static func dotF32(_ a: [Float], _ b: [Float]) -> Float { tl_dot_f32(a, b, a.count) }
    public static func compare(_ a: [Float], _ b: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: 5)
        tl_compare_f32(a, b, a.count, &out)
        return out
    }
    /// y · silu(gate), element by element.
    public static func siluMul(_ y: [Float], gate: [Float]) -> [Float] {
        var out = y
        tl_silu_mul(&out, gate, out.count)
        return out
    }
    public static func dotF16(_ a: [UInt16], _ b: [Float]) -> Float { tl_dot_f16_f32(a, b, a.count) }
    /// f32 → f16 bits as the f16 KV cache keeps them.
    public static func narrowF16(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        tl_narrow_f16(x, x.count, &out)
        return out
    }
    public static func dotBF16(_ a: [UInt16], _ b: [Float]) -> Float { tl_dot_bf16_f32(a, b, a.count) }
    public static func dotQ8(_ w: [Int8], scales ws: [UInt16], _ x: [Int8], scales xs: [Float]) -> Float {
        tl_dot_q8_q8(w, ws, x, xs, w.count)
    }
    public static func dotQ8Row(_ w: [Int8], scale: Float, _ x: [Int8], scales xs: [Float]) -> Float {
        tl_dot_q8row_q8(w, scale, x, xs, w.count)
    }
    /// Every row of a q8 matrix (rows × x.count) against x, in one call.
    public static func dotQ8Rows(_ w: [Int8], scales ws: [UInt16], _ x: [Int8], scales xs: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: w.count / x.count)
        tl_dot_q8_rows(w, ws, x.count, 0, out.count, x, xs, &out)
        return out
    }
    public static func attend(_ q: [Float], keys: [[Float]], values: [[Float]], scale: Float, cap: Float = 0) -> [Float] {
        let dh = q.count, count = keys.count
        var out = [Float](repeating: 0, count: dh), scores = [Float](repeating: 0, count: count)
        tl_attend(q, keys.flatMap { $0 }, values.flatMap { $0 }, TL_WEIGHTS_F32, dh, count, dh, scale, cap, &scores, &out)
        return out
    }

    /// Queries at once (tl_attend_queries): query i sees positions ranges[i] of keys and
    /// values (f16 bits when `f16`, else f32 values in `keys`/`values`).
    public static func attendQueries(_ queries: [[Float]], keys: [[Float]], values: [[Float]], ranges: [Range<Int>], scale: Float,
                                     cap: Float = 0, f16: Bool = false) -> [[Float]] {
        let dh = queries[0].count, n = queries.count
        var out = [Float](repeating: 0, count: n * dh)
        let starts = ranges.map(\.lowerBound), ends = ranges.map(\.upperBound)
        if f16 {
            let k = keys.flatMap { $0.map(halfBitsFromFloat) }, v = values.flatMap { $0.map(halfBitsFromFloat) }
            tl_attend_queries(queries.flatMap { $0 }, dh, n, k, v, TL_WEIGHTS_F16, dh, starts, ends, dh, scale, cap, &out, dh)
        } else {
            tl_attend_queries(queries.flatMap { $0 }, dh, n, keys.flatMap { $0 }, values.flatMap { $0 }, TL_WEIGHTS_F32, dh, starts, ends, dh, scale,
                              cap, &out, dh)
        }
        return (0..<n).map { Array(out[($0 * dh)..<(($0 + 1) * dh)]) }
    }

    /// The same over keys and values kept as ggml's Q8_0 blocks (the q8 KV cache), each
    /// position's vector quantized as the runner does; also the values the blocks hold.
    public static func attendQ8(_ q: [Float], keys: [[Float]], values: [[Float]], scale: Float)
        -> (out: [Float], keys: [[Float]], values: [[Float]]) {
        let dh = q.count, count = keys.count, row = dh / 32 * 34
        func blocks(_ rows: [[Float]]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: rows.count * row)
            out.withUnsafeMutableBufferPointer { o in
                for (p, x) in rows.enumerated() { _ = tl_quantize_q8_0_ggml(x, dh, o.baseAddress! + p * row, nil) }
            }
            return out
        }
        func widened(_ bytes: [UInt8]) -> [[Float]] {
            (0..<count).map { p in
                var x = [Float](repeating: 0, count: dh)
                bytes.withUnsafeBytes { b in
                    GGMLDequantize.dequantize(UnsafeRawBufferPointer(rebasing: b[(p * row)..<((p + 1) * row)]), type: .q8_0, count: dh, into: &x)
                }
                return x
            }
        }
        let k = blocks(keys), v = blocks(values)
        var out = [Float](repeating: 0, count: dh), scores = [Float](repeating: 0, count: count)
        tl_attend(q, k, v, TL_WEIGHTS_Q8_0, dh, count, dh, scale, 0, &scores, &out)
        return (out, widened(k), widened(v))
    }

    /// The same over keys and values kept as f16 bits.
    public static func attendF16(_ q: [Float], keys: [[UInt16]], values: [[UInt16]], scale: Float) -> [Float] {
        let dh = q.count, count = keys.count
        var out = [Float](repeating: 0, count: dh), scores = [Float](repeating: 0, count: count)
        tl_attend(q, keys.flatMap { $0 }, values.flatMap { $0 }, TL_WEIGHTS_F16, dh, count, dh, scale, 0, &scores, &out)
        return out
    }

    /// q8 blocks of the transpose of a (rows, cols) matrix: cols rows of `rows` values; -1
    /// or the index in x of a value that failed.
    public static func quantizeColumns(_ x: [Float], rows: Int, cols: Int) -> (q: [Int8], scales: [UInt16], failure: Int) {
        var q = [Int8](repeating: 0, count: rows * cols), s = [UInt16](repeating: 0, count: rows * cols / 32)
        let bad = tl_quantize_q8_columns(x, rows, cols, 0, cols, &q, &s, nil)
        return (q, s, bad)
    }

    /// GGUF's Q8_0 blocks of x (a multiple of 32 values); -1 or the index of a value that failed.
    public static func quantizeGGML(_ x: [Float]) -> (blocks: [UInt8], failure: Int) {
        var out = [UInt8](repeating: 0, count: x.count / 32 * 34)
        let bad = tl_quantize_q8_0_ggml(x, x.count, &out, nil)
        return (out, bad)
    }

    /// The same for the transpose of a (rows, cols) matrix, columns c0..<c1 only (the rest of
    /// the output is left zero).
    public static func quantizeGGMLColumns(_ x: [Float], rows: Int, cols: Int, columns: Range<Int>) -> (blocks: [UInt8], failure: Int) {
        var out = [UInt8](repeating: 0, count: rows * cols / 32 * 34)
        let bad = tl_quantize_q8_0_ggml_columns(x, rows, cols, columns.lowerBound, columns.upperBound, &out, nil)
        return (out, bad)
    }

    public static func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * cols)
        tl_transpose_f32(x, rows, cols, 0, cols, &y)
        return y
    }
    public static func gelu(_ x: [Float]) -> [Float] {
        var y = x
        tl_gelu(&y, y.count)
        return y
    }

    /// W (rows × n, q8 blocks) times T quantized tokens: out[t][r] (the prompt kernel).
    public static func gemmQ8(_ w: [Int8], scales ws: [UInt16], rows: Int, _ x: [(q: [Int8], scales: [Float])]) -> [[Float]] {
        gemm(w, blockScales: ws, rowScales: nil, rows: rows, x)
    }

    /// The same for q8-row weights (one scale per row).
    public static func gemmQ8Row(_ w: [Int8], scales ws: [Float], _ x: [(q: [Int8], scales: [Float])]) -> [[Float]] {
        gemm(w, blockScales: nil, rowScales: ws, rows: ws.count, x)
    }

    private static func gemm(_ w: [Int8], blockScales: [UInt16]?, rowScales: [Float]?, rows: Int, _ x: [(q: [Int8], scales: [Float])]) -> [[Float]] {
        let n = w.count / rows, T = x.count
        let q = x.flatMap(\.q), s = x.flatMap(\.scales), sums = blockSums(q)
        var y = [Float](repeating: 0, count: T * rows)
        let bs = blockScales ?? [], rs = rowScales ?? []
        bs.withUnsafeBufferPointer { bp in
            rs.withUnsafeBufferPointer { rp in
                tl_gemm_q8(w, blockScales == nil ? nil : bp.baseAddress, rowScales == nil ? nil : rp.baseAddress, n, 0, rows, q, s, sums, T, nil, &y, rows)
            }
        }
        return (0..<T).map { Array(y[($0 * rows)..<($0 * rows + rows)]) }
    }

    /// W (rows of ggml blocks, back to back) times T quantized tokens: out[t][r], through
    /// the decoding kernel when T is 1 and the prompt kernel otherwise.
    public static func productBlocks(_ w: [UInt8], type: GGMLType, rows: Int, _ x: [(q: [Int8], scales: [Float])]) -> [[Float]] {
        let n = x[0].q.count, T = x.count, kernel = type.blockKernel!
        let q = x.flatMap(\.q), s = x.flatMap(\.scales), sums = blockSums(q)
        var y = [Float](repeating: 0, count: T * rows)
        if T == 1 { tl_dot_blocks_rows(kernel, w, n, 0, rows, q, s, sums, &y) } else { tl_gemm_blocks(kernel, w, n, 0, rows, q, s, sums, T, nil, &y, rows) }
        return (0..<T).map { Array(y[($0 * rows)..<($0 * rows + rows)]) }
    }

    /// Σq of each block of 32: what tl_quantize_activations keeps beside the values.
    private static func blockSums(_ q: [Int8]) -> [Int32] {
        (0..<(q.count / 32)).map { b in q[(32 * b)..<(32 * b + 32)].reduce(Int32(0)) { $0 + Int32($1) } }
    }

    /// W (rows × n) in f32, f16 or bf16 bits times T f32 tokens: out[t][r].
    public static func gemmF32(_ w: [Float], rows: Int, _ x: [[Float]]) -> [[Float]] {
        gemmFloat(w, type: TL_WEIGHTS_F32, rows: rows, x)
    }
    public static func gemmF16(_ w: [UInt16], rows: Int, _ x: [[Float]]) -> [[Float]] {
        gemmFloat(w, type: TL_WEIGHTS_F16, rows: rows, x)
    }
    public static func gemmBF16(_ w: [UInt16], rows: Int, _ x: [[Float]]) -> [[Float]] {
        gemmFloat(w, type: TL_WEIGHTS_BF16, rows: rows, x)
    }

    private static func gemmFloat<W>(_ w: [W], type: tl_weight_type, rows: Int, _ x: [[Float]]) -> [[Float]] {
        let n = w.count / rows, T = x.count
        var y = [Float](repeating: 0, count: T * rows)
        w.withUnsafeBytes { wp in tl_gemm_float(wp.baseAddress, type, n, 0, rows, x.flatMap { $0 }, T, &y, rows) }
        return (0..<T).map { Array(y[($0 * rows)..<($0 * rows + rows)]) }
    }

    /// Activations with a scale per `span` values: 32, or 256 (tl_quantize_activations_256).
    public static func quantizeActivations(_ x: [Float], span: Int = 32) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: x.count)
        var s = [Float](repeating: 0, count: x.count / 32)
        if span == 256 { tl_quantize_activations_256(x, x.count, &q, &s, nil) } else { tl_quantize_activations(x, x.count, &q, &s, nil) }
        return (q, s)
    }
}
