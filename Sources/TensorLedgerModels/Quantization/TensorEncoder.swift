// Turns one source tensor into its stored form: widened to f32 rows when needed,
// transposed from [in, out] to rows, then quantized or narrowed. Rows are split
// across threads in contiguous ranges, one hand-off per tensor.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

package final class TensorEncoder: @unchecked Sendable {
    package let threads: Int
    /// The encoded raw bytes of the last tensor (reused, grown to the largest). A plain
    /// allocation rather than an array: a writer thread reads it while the next tensor is
    /// encoded into another encoder, and nothing may copy it behind our back.
    package private(set) var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var scratch: [Float] = []

    package init(threads: Int) { self.threads = threads }

    deinit { output.deallocate() }

    /// Encodes `item` into `output[0..<item.rawBytes]` as `format` stores it (q8: .tlm's int8
    /// plane then scales, or GGUF's Q8_0 blocks), with its rows
    /// reordered for ggml's RoPE when given; returns the quantization error of a quantized tensor.
    /// A float tensor written as it is (or narrowed: an f32 value beyond f16's range) is
    /// checked for NaN and infinity too: the quantizers refuse them, and so does this.
    package func encode(_ item: ConversionItem, from checkpoint: Checkpoint, format: ConversionOptions.OutputFormat = .tlm,
                permuting permutation: GGUFRowPermutation? = nil) throws -> QuantizationQuality? {
        let quality = try encodeValues(item, from: checkpoint, format: format, permuting: permutation)
        if !item.scheme.isQuantized,
           let bad = firstNonFinite(UnsafeRawBufferPointer(rebasing: output[0..<item.rawBytes]), dtype: item.scheme.storageDType) {
            throw QuantizationError.nonFinite(tensor: item.source.name, index: Self.sourceIndex(bad, of: item, permuting: permutation))
        }
        return quality
    }

    /// Where value `i` of the encoded rows sits in the source tensor, the transpose and
    /// llama's row permutation undone: errors name the place as the checkpoint holds it.
    package static func sourceIndex(_ i: Int, of item: ConversionItem, permuting permutation: GGUFRowPermutation?) -> Int {
        let rows = item.shape.count == 2 ? item.shape[0] : 1, cols = item.source.info.elementCount / max(rows, 1)
        guard cols > 0 else { return i }
        var r = i / cols
        let c = i % cols
        if let permutation { r = permutation.sourceRow(r) }
        return item.transposed ? c * rows + r : r * cols + c
    }

    private func encodeValues(_ item: ConversionItem, from checkpoint: Checkpoint, format: ConversionOptions.OutputFormat,
                              permuting permutation: GGUFRowPermutation?) throws -> QuantizationQuality? {
        let info = item.source.info
        let src = checkpoint.data(for: item.source)
        reserve(item.rawBytes)

        // Same element type, same layout: the bytes go through untouched (bit-exact).
        let shift = item.valueShift
        if !item.transposed && permutation == nil && !item.scheme.isQuantized && item.scheme.storageDType == info.dtype && shift == 0 {
            UnsafeMutableRawBufferPointer(rebasing: output[0..<src.count]).copyMemory(from: src)
            return nil
        }

        let rows = item.shape.count == 2 ? item.shape[0] : 1
        let cols = rows > 0 ? info.elementCount / max(rows, 1) : 0
        let threads = info.elementCount >= 1 << 16 ? self.threads : 1
        let name = info.name
        let base = output.baseAddress!
        let scalesOffset = TLMFormat.align(info.elementCount)
        if (item.scheme == .q8 || item.scheme == .q8Row) && format == .tlm {
            // Zero the alignment padding between the int8 plane and the scales.
            UnsafeMutableRawBufferPointer(rebasing: output[info.elementCount..<scalesOffset]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        let q = base.assumingMemoryBound(to: Int8.self)

        // Conv1D weights to q8 (.tlm's blocks or GGUF's Q8_0): transposed and quantized in
        // one pass, 16 output rows at a time, with no f32 copy of the tensor in between.
        if item.transposed && item.scheme == .q8 && permutation == nil && info.dtype == .float32 && cols % 32 == 0
            && Int(bitPattern: src.baseAddress) % 4 == 0 {
            let x = src.baseAddress!.assumingMemoryBound(to: Float.self)
            let scales = (base + scalesOffset).assumingMemoryBound(to: UInt16.self)
            let blocks = base.assumingMemoryBound(to: UInt8.self)
            return try Self.quantizeInParallel((rows + 15) / 16, threads: threads, tensor: name, rowScales: format == .tlm) { bands, quality in
                let columns = (bands.lowerBound * 16)..<min(bands.upperBound * 16, rows)
                switch format {
                case .tlm: return Q8.quantizeColumns(x, rows: cols, cols: rows, columns: columns, into: q, scales: scales, quality: &quality)
                case .gguf: return Q8.quantizeGGMLColumns(x, rows: cols, cols: rows, columns: columns, into: blocks, quality: &quality)
                }
            }
        }

        // f32 rows in output layout: straight from the mapping when possible.
        let direct = info.dtype == .float32 && !item.transposed && permutation == nil && Int(bitPattern: src.baseAddress) % 4 == 0 && shift == 0
        if !direct && !item.transposed && permutation == nil && shift == 0, let rowBytes = Self.rowBytes(item, format: format), rows > 1 {
            let width = info.dtype.bitSize / 8
            return try encodeInBands(item, rowBytes: rowBytes, format: format, fill: { r0, n, x in
                try Self.widen(UnsafeRawBufferPointer(rebasing: src[(r0 * cols * width)..<((r0 + n) * cols * width)]), dtype: info.dtype, into: x,
                               threads: threads, tensor: name)
            }, done: { r0, n in checkpoint.releasePages(of: item.source, bytes: (r0 * cols * width)..<((r0 + n) * cols * width)) })
        }
        if !direct {
            if scratch.count < info.elementCount { scratch = [Float](repeating: 0, count: info.elementCount) }
            try scratch.withUnsafeMutableBufferPointer { dst in
                if item.transposed {
                    try Self.transposeToFloat(src, dtype: info.dtype, inRows: info.shape[0], inCols: info.shape[1], into: dst.baseAddress!, threads: threads, tensor: name)
                } else {
                    try Self.widen(src, dtype: info.dtype, into: UnsafeMutableBufferPointer(rebasing: dst[0..<info.elementCount]), threads: threads, tensor: name)
                }
                permutation?.apply(to: dst.baseAddress!, cols: cols)
                if shift != 0 { for i in 0..<info.elementCount { dst[i] += shift } }
            }
        }

        return try scratch.withUnsafeBufferPointer { scratchBuf in
            let x: UnsafePointer<Float> = direct ? src.baseAddress!.assumingMemoryBound(to: Float.self) : scratchBuf.baseAddress!
            return try encodeRows(x, releasing: direct, item, format: format, permuting: permutation)
        }
    }

    /// Grows `output` to hold `bytes`.
    private func reserve(_ bytes: Int) {
        guard output.count < bytes || output.baseAddress == nil else { return }
        output.deallocate()
        output = .allocate(byteCount: max(bytes, 64), alignment: 64)
    }

    /// Bytes of one encoded row where the layout is rows back to back (ggml's blocks, GGUF's
    /// Q8_0, the float schemes); nil for .tlm's q8 planes.
    package static func rowBytes(_ item: ConversionItem, format: ConversionOptions.OutputFormat) -> Int? {
        guard item.shape.count == 2 else { return nil }
        let cols = item.shape[1]
        switch item.scheme {
        case .q8 where format == .gguf: return cols / 32 * 34
        case .q8, .q8Row: return nil
        default: return TLMTensorEntry.expectedRawBytes(shape: [1, cols], scheme: item.scheme)
        }
    }

    /// Encodes a matrix a band of rows at a time (about 4 MB of f32): `fill` gives rows
    /// r0 ..< r0 + n as f32, `done` is told when they are encoded (to let their source pages
    /// go), so memory stays near the encoded tensor, whatever its size. Rows of `rowBytes`.
    package func encodeInBands(_ item: ConversionItem, rowBytes: Int, format: ConversionOptions.OutputFormat,
                               fill: (_ r0: Int, _ n: Int, UnsafeMutableBufferPointer<Float>) throws -> Void,
                               done: (_ r0: Int, _ n: Int) -> Void) throws -> QuantizationQuality? {
        let info = item.source.info, rows = item.shape[0], cols = item.shape[1]
        reserve(item.rawBytes)
        let band = max(1, min(rows, (1 << 20) / max(cols, 1)))
        if scratch.count < band * cols { scratch = [Float](repeating: 0, count: band * cols) }
        var total: QuantizationQuality?
        for r0 in stride(from: 0, to: rows, by: band) {
            let n = min(band, rows - r0)
            var part = item
            part.source.info.shape = [n, cols]
            part.storage.shape = [n, cols]
            part.rawBytes = n * rowBytes
            let quality: QuantizationQuality?
            do {
                quality = try scratch.withUnsafeMutableBufferPointer { x in
                    try fill(r0, n, UnsafeMutableBufferPointer(rebasing: x[0..<(n * cols)]))
                    return try encodeRows(x.baseAddress!, releasing: false, part, format: format, permuting: nil, into: output.baseAddress! + r0 * rowBytes)
                }
            } catch QuantizationError.nonFinite(let t, let i) {
                throw QuantizationError.nonFinite(tensor: t, index: r0 * cols + i)
            } catch QuantizationError.scaleOverflow(let t, let i, let rowScales) {
                throw QuantizationError.scaleOverflow(tensor: t, index: r0 * cols + i, rowScales: rowScales)
            }
            if let quality {
                var sum = total ?? QuantizationQuality()
                sum.merge(quality)
                total = sum
            }
            done(r0, n)
        }
        if !item.scheme.isQuantized,
           let bad = firstNonFinite(UnsafeRawBufferPointer(rebasing: output[0..<item.rawBytes]), dtype: item.scheme.storageDType) {
            throw QuantizationError.nonFinite(tensor: info.name, index: bad)
        }
        return total
    }

    /// The encoding proper: f32 rows (read from the mapping when `releasing`, whose pages
    /// are let go as they are done) into `output` in the item's scheme.
    private func encodeRows(_ x: UnsafePointer<Float>, releasing direct: Bool, _ item: ConversionItem, format: ConversionOptions.OutputFormat,
                            permuting permutation: GGUFRowPermutation?, into out: UnsafeMutableRawPointer? = nil) throws -> QuantizationQuality? {
        let info = item.source.info, name = info.name
        let rows = item.shape.count == 2 ? item.shape[0] : 1
        let cols = rows > 0 ? info.elementCount / max(rows, 1) : 0
        let threads = info.elementCount >= 1 << 16 ? self.threads : 1
        let base = out ?? output.baseAddress!
        let scalesOffset = TLMFormat.align(info.elementCount)
        let q = base.assumingMemoryBound(to: Int8.self)
        switch item.scheme {
        case .f32:
            base.copyMemory(from: x, byteCount: info.elementCount * 4)
            return nil
        case .f16:
            let o = base.assumingMemoryBound(to: UInt16.self)
            for i in 0..<info.elementCount { o[i] = halfBitsFromFloat(x[i]).littleEndian }
            return nil
        case .bf16:
            let o = base.assumingMemoryBound(to: UInt16.self)
            for i in 0..<info.elementCount { o[i] = bfloat16BitsFromFloat(x[i]).littleEndian }
            return nil
        case .q8 where format == .gguf:
            let blocks = base.assumingMemoryBound(to: UInt8.self)
            return try Self.quantizeInParallel(rows, threads: threads, tensor: name, rowScales: false) { range, quality in
                for start in stride(from: range.lowerBound, to: range.upperBound, by: 1024) {
                    let count = min(1024, range.upperBound - start)
                    let failure = Q8.quantizeGGML(x + start * cols, count: count * cols, into: blocks + start * cols / 32 * 34, quality: &quality)
                    if let failure {
                        return QuantizationFailure(index: Self.sourceIndex(start * cols + failure.index, of: item, permuting: permutation), overflow: failure.overflow)
                    }
                    if direct { releasePages(x + start * cols, byteCount: count * cols * 4) }
                }
                return nil
            }
        case .blocks(let type):
            // ggml's reference quantizer row by row; the error is measured on the
            // values read back, as the runner will see them.
            let kernel = type.blockKernel!, rowBytes = tl_block_row_bytes(kernel, cols)
            return try Self.quantizeInParallel(rows, threads: threads, tensor: name, rowScales: false) { range, quality in
                var back = [Float](repeating: 0, count: cols)
                var sums = [Double](repeating: 0, count: 5)
                for r in range {
                    if direct && r > range.lowerBound && (r - range.lowerBound) % 1024 == 0 {
                        releasePages(x + (r - 1024) * cols, byteCount: 1024 * cols * 4)
                    }
                    let row = x + r * cols, out = base + r * rowBytes
                    if let failure = BlockQuantizer.quantize(row, count: cols, type: type, into: out) {
                        return QuantizationFailure(index: Self.sourceIndex(r * cols + failure.index, of: item, permuting: permutation), overflow: failure.overflow)
                    }
                    back.withUnsafeMutableBufferPointer { b in
                        GGMLDequantize.dequantize(UnsafeRawBufferPointer(start: out, count: rowBytes), type: type, count: cols, into: b.baseAddress!)
                        tl_compare_f32(row, b.baseAddress!, cols, &sums)
                    }
                    quality.add(tl_quant_stats(sum_sq_err: sums[3], sum_sq: sums[0], max_abs_err: Float(sums[4])), count: cols)
                }
                return nil
            }
        case .q8, .q8Row:
            return try Self.quantizeInParallel(rows, threads: threads, tensor: name) { range, quality in
                for r in range {
                    // Rows read straight from the mapping are let go every 1024 rows,
                    // so the largest tensor is never resident whole.
                    if direct && r > range.lowerBound && (r - range.lowerBound) % 1024 == 0 {
                        releasePages(x + (r - 1024) * cols, byteCount: 1024 * cols * 4)
                    }
                    let failure = item.scheme == .q8
                        ? Q8.quantizeBlocks(x + r * cols, count: cols, into: q + r * cols,
                                            scales: (base + scalesOffset).assumingMemoryBound(to: UInt16.self) + r * (cols / WeightScheme.blockSize), quality: &quality)
                        : Q8.quantizeRow(x + r * cols, count: cols, into: q + r * cols,
                                         scale: (base + scalesOffset).assumingMemoryBound(to: Float.self) + r, quality: &quality)
                    if let failure {
                        return QuantizationFailure(index: Self.sourceIndex(r * cols + failure.index, of: item, permuting: permutation), overflow: failure.overflow)
                    }
                }
                return nil
            }
        }
    }

    /// Runs `body` over `count` units split into contiguous ranges across threads, each with
    /// its own error tally; a failure that any range reports becomes the error.
    package static func quantizeInParallel(_ count: Int, threads: Int, tensor: String, rowScales: Bool = true,
                                   _ body: (Range<Int>, inout QuantizationQuality) -> QuantizationFailure?) throws -> QuantizationQuality {
        let perThread = UnsafeMutableBufferPointer<QuantizationQuality>.allocate(capacity: threads)
        perThread.initialize(repeating: QuantizationQuality())
        let failures = UnsafeMutableBufferPointer<QuantizationFailure?>.allocate(capacity: threads)
        failures.initialize(repeating: nil)
        defer { perThread.deallocate(); failures.deallocate() }
        parallelRows(count, threads: threads) { t, range in
            var quality = QuantizationQuality()
            failures[t] = body(range, &quality)
            perThread[t] = quality
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure.error(tensor: tensor, rowScales: rowScales) }
        var total = QuantizationQuality()
        for q in perThread { total.merge(q) }
        return total
    }

    /// convertToFloat split across threads in contiguous ranges.
    package static func widen(_ src: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>, threads: Int, tensor: String) throws {
        let width = dtype.bitSize / 8, n = out.count
        guard threads > 1, width > 0, n >= 1 << 16 else { return try convertToFloat(src, dtype: dtype, into: out, tensor: tensor) }
        let failed = UnsafeMutableBufferPointer<TensorDataError?>.allocate(capacity: threads)
        failed.initialize(repeating: nil)
        defer { failed.deallocate() }
        parallelRows(n, threads: threads) { t, range in
            do {
                try convertToFloat(UnsafeRawBufferPointer(rebasing: src[(range.lowerBound * width)..<(range.upperBound * width)]), dtype: dtype,
                                   into: UnsafeMutableBufferPointer(rebasing: out[range]), tensor: tensor)
            } catch let error as TensorDataError { failed[t] = error } catch {}
        }
        if let error = failed.compactMap({ $0 }).first { throw error }
    }

    /// Widens and transposes a [inRows, inCols] tensor into [inCols, inRows] f32; output
    /// rows are split across threads.
    package static func transposeToFloat(_ src: UnsafeRawBufferPointer, dtype: DType, inRows: Int, inCols: Int,
                                 into dst: UnsafeMutablePointer<Float>, threads: Int, tensor: String) throws {
        var wide: [Float] = []
        var source = src
        if dtype != .float32 || Int(bitPattern: src.baseAddress) % 4 != 0 {
            // Widen first (f16, bf16, integers, or unaligned f32), then transpose the f32 copy.
            wide = [Float](repeating: 0, count: inRows * inCols)
            try wide.withUnsafeMutableBufferPointer { try convertToFloat(src, dtype: dtype, into: $0, tensor: tensor) }
        }
        wide.withUnsafeBytes { w in
            if dtype != .float32 || Int(bitPattern: src.baseAddress) % 4 != 0 { source = w }
            let s = source.baseAddress!.assumingMemoryBound(to: Float.self)
            // Bands of 16 output rows (a whole register tile of the kernel) per thread.
            parallelRows((inCols + 15) / 16, threads: threads) { _, bands in
                tl_transpose_f32(s, inRows, inCols, bands.lowerBound * 16, min(bands.upperBound * 16, inCols), dst)
            }
        }
    }
}
