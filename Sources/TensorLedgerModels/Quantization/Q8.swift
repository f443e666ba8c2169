// int8 quantization: the C kernels used for conversion, and their plain Swift twins,
// which define the schemes and are what the tests compare the kernels against.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import CKernels

public enum QuantizationError: TensorLedgerError, Equatable {
    case nonFinite(tensor: String, index: Int)
    /// `rowScales`: whether the format has q8-row, whose one f32 scale per row would hold it.
    case scaleOverflow(tensor: String, index: Int, rowScales: Bool = true)

    public var category: ErrorCategory { .badInput }
    public var remedy: Remedy? {
        if case .scaleOverflow(_, _, let rowScales) = self { return rowScales ? .keepInFloatOrScalePerRow : .keepInFloat }
        return nil
    }
    public var description: String {
        switch self {
        case .nonFinite(let t, let i): return "tensor \"\(t)\": value \(i) is not finite (NaN or infinity) or too large for the type it is stored in; a model holding it computes nothing usable"
        case .scaleOverflow(let t, let i, _):
            return "tensor \"\(t)\": the block at value \(i) has values above 8.3 million, beyond an f16 scale"
        }
    }
}

/// Where quantizing a tensor failed: a non-finite value, or (at a finite one) a block whose
/// scale overflows f16.
package struct QuantizationFailure: Equatable, Error {
    package var index: Int
    package var overflow: Bool

    /// `bad` from a C quantizer (-1 for none), indexing x.
    package init?(_ bad: Int, in x: UnsafePointer<Float>) {
        guard bad >= 0 else { return nil }
        index = bad
        overflow = x[bad].isFinite
    }

    package init(index: Int, overflow: Bool) {
        self.index = index
        self.overflow = overflow
    }

    package func error(tensor: String, rowScales: Bool = true) -> QuantizationError {
        overflow ? .scaleOverflow(tensor: tensor, index: index, rowScales: rowScales) : .nonFinite(tensor: tensor, index: index)
    }
}

public enum Q8 {
    /// Runs a C quantizer over `count` values of x, adds its error sums to `quality`, and
    /// turns its answer (-1, or the index in x of a value that failed) into a failure.
    @inline(__always)
    private static func measured(_ x: UnsafePointer<Float>, count: Int, quality: inout QuantizationQuality,
                                 _ kernel: (UnsafeMutablePointer<tl_quant_stats>) -> Int) -> QuantizationFailure? {
        var st = tl_quant_stats()
        let bad = kernel(&st)
        quality.add(st, count: count)
        return QuantizationFailure(bad, in: x)
    }

    /// Quantizes one row of `cols` values (a multiple of 32) into q8 blocks with the C kernel.
    @inline(__always)
    package static func quantizeBlocks(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>,
                               scales: UnsafeMutablePointer<UInt16>, quality: inout QuantizationQuality) -> QuantizationFailure? {
        measured(x, count: count, quality: &quality) { tl_quantize_q8_blocks(x, count, q, scales, $0) }
    }

    /// q8 blocks of the transpose of a (rows, cols) matrix for the given columns (rows of the
    /// result); a failure is reported at its index in x.
    package static func quantizeColumns(_ x: UnsafePointer<Float>, rows: Int, cols: Int, columns: Range<Int>, into q: UnsafeMutablePointer<Int8>,
                                scales: UnsafeMutablePointer<UInt16>, quality: inout QuantizationQuality) -> QuantizationFailure? {
        measured(x, count: rows * columns.count, quality: &quality) {
            tl_quantize_q8_columns(x, rows, cols, columns.lowerBound, columns.upperBound, q, scales, $0)
        }
    }

    /// GGUF's Q8_0 blocks of n values (a multiple of 32).
    package static func quantizeGGML(_ x: UnsafePointer<Float>, count: Int, into blocks: UnsafeMutablePointer<UInt8>,
                             quality: inout QuantizationQuality) -> QuantizationFailure? {
        measured(x, count: count, quality: &quality) { tl_quantize_q8_0_ggml(x, count, blocks, $0) }
    }

    /// GGUF's Q8_0 blocks of the same columns, each row rows/32 blocks of 34 bytes.
    package static func quantizeGGMLColumns(_ x: UnsafePointer<Float>, rows: Int, cols: Int, columns: Range<Int>,
                                    into blocks: UnsafeMutablePointer<UInt8>, quality: inout QuantizationQuality) -> QuantizationFailure? {
        measured(x, count: rows * columns.count, quality: &quality) {
            tl_quantize_q8_0_ggml_columns(x, rows, cols, columns.lowerBound, columns.upperBound, blocks, $0)
        }
    }

    @inline(__always)
    package static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>,
                            scale: UnsafeMutablePointer<Float>, quality: inout QuantizationQuality) -> QuantizationFailure? {
        measured(x, count: count, quality: &quality) { tl_quantize_q8_row(x, count, q, scale, $0) }
    }

    // MARK: Swift twins (the definition of the schemes)

    /// round(t), halves away from zero.
    public static func roundHalfAway(_ t: Float) -> Float { t.rounded(.toNearestOrAwayFromZero) }

    /// The f16 scale of a block: max|x| / 127 rounded up to the next f16, so that
    /// every |x| / scale ≤ 127 and the error bound holds with the stored scale.
    public static func blockScale(_ block: ArraySlice<Float>) -> Float16 {
        let amax = block.reduce(Float(0)) { max($0, abs($1)) }
        let d = amax / 127
        var h = Float16(d)
        if Float(h) < d { h = h.nextUp }
        return h
    }

    /// Reference q8 quantization of a row (cols a multiple of 32).
    public static func referenceBlocks(_ row: [Float]) -> (q: [Int8], scales: [UInt16]) {
        var q = [Int8](repeating: 0, count: row.count)
        var scales: [UInt16] = []
        for start in stride(from: 0, to: row.count, by: WeightScheme.blockSize) {
            let block = row[start..<(start + WeightScheme.blockSize)]
            let h = blockScale(block)
            scales.append(h.bitPattern)
            let d = Float(h)
            guard d != 0 else { continue }
            for i in block.indices { q[i] = Int8(roundHalfAway(row[i] / d)) }
        }
        return (q, scales)
    }

    /// Reference q8-row quantization: one f32 scale max|x| / 127.
    public static func referenceRow(_ row: [Float]) -> (q: [Int8], scale: Float) {
        let d = row.reduce(Float(0)) { max($0, abs($1)) } / 127
        return (row.map { d == 0 ? 0 : Int8(roundHalfAway($0 / d)) }, d)
    }

    /// Reference Q8_0 as ggml writes it (quantize_row_q8_0_ref): per block of 32, d =
    /// max|x| / 127 kept in f32 for the quantization, q = round(x · (1/d)), and d stored as the
    /// nearest f16 — not q8's rounded-up scale, so the bytes differ from `referenceBlocks`.
    public static func referenceGGMLBlocks(_ row: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(row.count / WeightScheme.blockSize * 34)
        for start in stride(from: 0, to: row.count, by: WeightScheme.blockSize) {
            let block = row[start..<(start + WeightScheme.blockSize)]
            let d = block.reduce(Float(0)) { max($0, abs($1)) } / 127
            let id = d == 0 ? 0 : 1 / d
            let h = Float16(d).bitPattern
            out += [UInt8(truncatingIfNeeded: h), UInt8(truncatingIfNeeded: h >> 8)]
            out += block.map { UInt8(bitPattern: Int8(roundHalfAway($0 * id))) }
        }
        return out
    }

    public static func dequantizeBlocks(_ q: [Int8], scales: [UInt16]) -> [Float] {
        q.enumerated().map { i, v in Float(v) * Float(Float16(bitPattern: scales[i / WeightScheme.blockSize])) }
    }
}

extension Q8 {
    /// The active C kernel on one row (for tests and benchmarks).
    public static func kernelBlocks(_ row: [Float]) throws(QuantizationError) -> (q: [Int8], scales: [UInt16]) {
        var q = [Int8](repeating: 0, count: row.count)
        var s = [UInt16](repeating: 0, count: row.count / WeightScheme.blockSize)
        var quality = QuantizationQuality()
        let bad = row.withUnsafeBufferPointer { x in
            q.withUnsafeMutableBufferPointer { qb in
                s.withUnsafeMutableBufferPointer { sb in
                    quantizeBlocks(x.baseAddress!, count: row.count, into: qb.baseAddress!, scales: sb.baseAddress!, quality: &quality)
                }
            }
        }
        if let bad { throw bad.error(tensor: "row") }
        return (q, s)
    }

    public static func kernelRow(_ row: [Float]) throws(QuantizationError) -> (q: [Int8], scale: Float) {
        var q = [Int8](repeating: 0, count: row.count)
        var scale: Float = 0
        var quality = QuantizationQuality()
        let bad = row.withUnsafeBufferPointer { x in
            q.withUnsafeMutableBufferPointer { qb in
                quantizeRow(x.baseAddress!, count: row.count, into: qb.baseAddress!, scale: &scale, quality: &quality)
            }
        }
        if let bad { throw bad.error(tensor: "row") }
        return (q, scale)
    }
}

extension QuantizationQuality {
    package mutating func add(_ st: tl_quant_stats, count n: Int) {
        sumSquaredError += st.sum_sq_err
        sumSquares += st.sum_sq
        maxAbsoluteError = max(maxAbsoluteError, st.max_abs_err)
        count += n
    }
}
