// Where the runner's weights come from: a .tlm file (int8 and f16 used in place from
// the mapping, every checksum checked on load), a safetensors checkpoint (widened to
// f32 rows, Conv1D matrices transposed) or a GGUF file, behind one interface.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import CKernels

public enum ModelLoadError: TensorLedgerError, Equatable {
    case missingTensor(source: String, name: String)
    case wrongShape(source: String, name: String, expected: [Int], found: [Int])
    case unsupportedArchitecture(source: String, family: String)
    case noConfig(source: String)
    case headsDoNotDivideWidth(source: String, width: Int, heads: Int)
    case unsupportedSetting(source: String, field: String, value: String)
    case unsupportedTensorType(source: String, name: String, type: String)
    case nonFinite(source: String, name: String, index: Int)
    /// A parameter the family's forward pass would not read: the checkpoint is a variant
    /// (Qwen3's q_norm, say) that would run, and be wrong, without it.
    case unusedTensor(source: String, name: String, family: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .missingTensor(let s, let n): return "\(s): the model has no tensor \"\(n)\""
        case .wrongShape(let s, let n, let e, let f): return "\(s): tensor \"\(n)\" has shape \(f), the configuration needs \(e)"
        case .unsupportedArchitecture(let s, let f): return "\(s): the runner runs GPT-2 and LLaMA-family models; this one is \(f)"
        case .noConfig(let s): return "\(s): no model configuration (config.json beside the weights, or in the .tlm header)"
        case .headsDoNotDivideWidth(let s, let d, let h): return "\(s): the model width \(d) is not a multiple of its \(h) attention heads"
        case .unsupportedSetting(let s, let f, let v): return "\(s): the runner does not support \(f) \(v)"
        case .unusedTensor(let s, let n, let f):
            return "\(s): tensor \"\(n)\" is not used by the \(f) runner: this is a variant it does not run yet, and without that tensor it would compute wrong"
        case .nonFinite(let s, let n, let i): return "\(s): tensor \"\(n)\" holds a value that is not finite (NaN or infinity) at element \(i); the model cannot compute with it"
        case .unsupportedTensorType(let s, let n, let t): return "\(s): tensor \"\(n)\" is \(t), which the runner has no kernel for (it runs F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS)"
        }
    }
}

package protocol WeightSource {
    var sourceName: String { get }
    func tokenizer() throws -> BPETokenizer
    /// A matrix in row layout (rows = output features). `conv1D`: a checkpoint stores it
    /// as [in, out] (GPT-2's Conv1D); a .tlm file already holds it in rows.
    func matrix(_ name: String, rows: Int, cols: Int, conv1D: Bool) throws -> WeightMatrix
    func loadVector(_ name: String, count: Int) throws -> [Float]
    func has(_ name: String) -> Bool
    /// A GGUF's head is output.weight whenever it has one, as llama.cpp loads it; elsewhere
    /// the configuration's tie_word_embeddings decides, as transformers loads it.
    var headIsOutputWeightWhenPresent: Bool { get }
    /// Gemma's norm weights are stored as 1 + w (llama.cpp's converter adds the one).
    var gemmaNormsIncludeOne: Bool { get }
}

extension WeightSource {
    package var headIsOutputWeightWhenPresent: Bool { false }
    package var gemmaNormsIncludeOne: Bool { false }

    /// The unembedding: lm_head.weight, or the embedding when the model ties them; with the
    /// notice that a tied configuration leaves the file's own head unused.
    package func unembedding(_ config: ModelConfig, embedding: WeightMatrix) throws -> (WeightMatrix, note: String?) {
        let has = has("lm_head.weight")
        // Untied, the file must have its head; tied, a GGUF's output.weight is still its head.
        if !config.tiedEmbeddings || (has && headIsOutputWeightWhenPresent) {
            return (try matrix("lm_head.weight", rows: config.vocabSize, cols: config.hiddenSize, conv1D: false), nil)
        }
        return (embedding, has ? ModelConfig.ignoredTiedHeadNote("lm_head.weight") : nil)
    }
}

package struct TLMWeights: WeightSource {
    package let file: TLMFile
    package var sourceName: String { file.path }

    package func tokenizer() throws -> BPETokenizer { try BPETokenizer.embedded(in: file) }

    package func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    package func entry(_ name: String, _ shape: [Int]) throws -> TLMTensorEntry {
        guard let e = file.tensor(named: name) else { throw ModelLoadError.missingTensor(source: file.path, name: name) }
        guard e.shape == shape else { throw ModelLoadError.wrongShape(source: file.path, name: name, expected: shape, found: e.shape) }
        return e
    }

    package func matrix(_ name: String, rows: Int, cols: Int, conv1D: Bool) throws -> WeightMatrix {
        let e = try entry(name, [rows, cols])
        return WeightMatrix(rows: rows, cols: cols, scheme: e.scheme, bytes: try file.rawBytes(of: e))
    }

    package func loadVector(_ name: String, count: Int) throws -> [Float] {
        let e = try entry(name, [count])
        let raw = try file.rawBytes(of: e)
        return try withExtendedLifetime(raw) {
            try floatValues(raw.bytes, info: TensorInfo(name: name, dtype: e.scheme.storageDType, shape: [count], dataOffsets: 0..<raw.bytes.count))
        }
    }
}

extension WeightSource {
    /// A vector (a norm's scale, a bias), refused if any value is not finite: one NaN
    /// there turns every output into NaN. Vectors are small, so the check is free.
    package func vector(_ name: String, count: Int) throws -> [Float] {
        let values = try loadVector(name, count: count)
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw ModelLoadError.nonFinite(source: sourceName, name: name, index: bad) }
        return values
    }
}

package struct CheckpointWeights: WeightSource {
    package let checkpoint: Checkpoint
    /// Cores that transpose a Conv1D matrix.
    package var threads = 2
    package var sourceName: String { checkpoint.path }

    package func tokenizer() throws -> BPETokenizer {
        try BPETokenizer.load(try TokenizerSource.tokenizerJSON(inDirectory: checkpoint.directory))
    }

    package func find(_ name: String) -> CheckpointTensor? { checkpoint.tensor(named: name) }

    package func has(_ name: String) -> Bool { find(name) != nil }

    package func matrix(_ name: String, rows: Int, cols: Int, conv1D transposed: Bool) throws -> WeightMatrix {
        guard let t = find(name) else { throw ModelLoadError.missingTensor(source: checkpoint.path, name: name) }
        guard t.info.shape == (transposed ? [cols, rows] : [rows, cols]) else {
            throw ModelLoadError.wrongShape(source: checkpoint.path, name: name, expected: [rows, cols], found: t.info.shape)
        }
        guard let out = TensorBytes(capacity: rows * cols * 4) else {
            throw FileError.readFailed(path: checkpoint.path, reason: "cannot allocate \(rows * cols * 4) bytes for \"\(name)\" in f32")
        }
        let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
        if transposed {
            try TensorEncoder.transposeToFloat(checkpoint.data(for: t), dtype: t.info.dtype, inRows: cols, inCols: rows, into: dst, threads: threads, tensor: name)
        } else {
            try convertToFloat(checkpoint.data(for: t), dtype: t.info.dtype, into: UnsafeMutableBufferPointer(start: dst, count: rows * cols), tensor: name)
        }
        return WeightMatrix(rows: rows, cols: cols, scheme: .f32, bytes: out)
    }

    package func loadVector(_ name: String, count: Int) throws -> [Float] {
        guard let t = find(name) else { throw ModelLoadError.missingTensor(source: checkpoint.path, name: name) }
        guard t.info.elementCount == count else {
            throw ModelLoadError.wrongShape(source: checkpoint.path, name: name, expected: [count], found: t.info.shape)
        }
        return try floatValues(checkpoint.data(for: t), info: t.info)
    }
}

/// A GGUF file: tensors found by their Hugging Face names (GGUFModel.swift maps them).
/// For the runner, F32, F16, BF16 and every block type with a kernel are used in place
/// from the mapping, so a model takes the file's size; a type without one is refused by
/// name, never widened. For a .tlm conversion (`asStored` false) Q8_0 is repacked into the
/// q8 layout (the same numbers), the block types .tlm holds (Q4_0 … Q6_K) are kept, and
/// the others (IQ4_NL, IQ4_XS) dequantized and requantized to q8. The llama architecture's Q and K rows are put back
/// in Hugging Face's order, those matrices copied.
package struct GGUFWeights: WeightSource {
    package let file: GGUFFile
    package let config: ModelConfig
    package let byName: [String: GGUFTensorMapping]
    /// Whether block types with kernels stay in their ggml blocks (the runner), or become
    /// .tlm schemes (a conversion).
    package let asStored: Bool
    /// At most how many cores check a tensor's scales; nil: the machine's, up to 8.
    package let threads: Int?
    package var sourceName: String { file.path }

    package init(file: GGUFFile, config: ModelConfig, asStored: Bool = true, threads: Int? = nil) {
        self.file = file
        self.config = config
        self.asStored = asStored
        self.threads = threads
        byName = Dictionary(file.huggingFaceTensors().map { ($0.info.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    package func tokenizer() throws -> BPETokenizer { try BPETokenizer.fromGGUF(file, source: file.path) }

    package var headIsOutputWeightWhenPresent: Bool { true }
    package var gemmaNormsIncludeOne: Bool { true }

    package func has(_ name: String) -> Bool { byName[name] != nil }

    package func matrix(_ name: String, rows: Int, cols: Int, conv1D: Bool) throws -> WeightMatrix {
        guard let m = byName[name] else { throw ModelLoadError.missingTensor(source: file.path, name: name) }
        // GGUF stores every matrix as rows of outputs, whatever the source's layout.
        guard m.gguf.dimensions == [cols, rows] else {
            throw ModelLoadError.wrongShape(source: file.path, name: m.gguf.name, expected: [rows, cols], found: m.gguf.dimensions.reversed())
        }
        let raw = try file.checkedData(for: m.gguf, threads: threads)
        let permutation = try file.rowPermutation(name, rows: rows, config: config)
        func sourceRow(_ r: Int) -> Int { permutation?.storedRow(r) ?? r }
        /// The stored rows in Hugging Face's order: the mapping itself, or a copy with the
        /// permuted rows put back.
        func rowsInOrder() throws -> TensorBytes {
            guard permutation != nil else { return TensorBytes(mapped: raw, owner: file.owner) }
            let rowBytes = raw.count / rows
            guard let out = TensorBytes(capacity: raw.count) else { throw allocationError(raw.count, name) }
            for r in 0..<rows {
                (out.mutableBytes.baseAddress! + r * rowBytes).copyMemory(from: raw.baseAddress! + sourceRow(r) * rowBytes, byteCount: rowBytes)
            }
            return out
        }
        let type = m.gguf.type
        // Block types with a .tlm scheme stay as they are for a conversion too.
        if asStored ? type.blockKernel != nil : WeightScheme(ggmlType: type)?.blockType != nil {
            // The bytes are the shape's by the reader's checks; a mismatch is refused, never trusted.
            guard let matrix = WeightMatrix(rows: rows, cols: cols, type: type, bytes: try rowsInOrder()) else {
                throw ModelLoadError.unsupportedTensorType(source: file.path, name: m.gguf.name, type: type.name)
            }
            return matrix
        }
        switch type {
        case .f32, .f16, .bf16:
            return WeightMatrix(rows: rows, cols: cols, scheme: WeightScheme(ggmlType: type)!, bytes: try rowsInOrder())
        case .q8_0:
            // (A conversion.) Blocks of {f16 scale, 32 int8} become the q8 layout: all int8 values, then the scales.
            let blocksPerRow = cols / 32
            let bytes = TLMTensorEntry.expectedRawBytes(shape: [rows, cols], scheme: .q8)!
            guard let out = TensorBytes(capacity: bytes) else { throw allocationError(bytes, name) }
            let values = out.mutableBytes.baseAddress!, scales = values + TLMFormat.align(rows * cols)
            (values + rows * cols).initializeMemory(as: UInt8.self, repeating: 0, count: TLMFormat.align(rows * cols) - rows * cols)
            for r in 0..<rows {
                let src = raw.baseAddress! + sourceRow(r) * blocksPerRow * 34
                for b in 0..<blocksPerRow {
                    let block = src + b * 34
                    (scales + 2 * (r * blocksPerRow + b)).copyMemory(from: block, byteCount: 2)
                    (values + r * cols + 32 * b).copyMemory(from: block + 2, byteCount: 32)
                }
            }
            return WeightMatrix(rows: rows, cols: cols, scheme: .q8, bytes: out)
        case _ where !asStored && GGMLDequantize.supported.contains(type) && cols % 32 == 0:
            // A type .tlm has no scheme for: its exact values, requantized to q8 (blocks of 32).
            let n = rows * cols
            guard let floats = TensorValues(count: n) else { throw allocationError(4 * n, name) }
            let rowBytes = raw.count / rows
            for r in 0..<rows {
                let row = UnsafeRawBufferPointer(rebasing: raw[(sourceRow(r) * rowBytes)..<((sourceRow(r) + 1) * rowBytes)])
                GGMLDequantize.dequantize(row, type: type, count: cols, into: floats.mutable.baseAddress! + r * cols)
            }
            let bytes = TLMTensorEntry.expectedRawBytes(shape: [rows, cols], scheme: .q8)!
            guard let out = TensorBytes(capacity: bytes) else { throw allocationError(bytes, name) }
            let values = out.mutableBytes.baseAddress!
            (values + n).initializeMemory(as: UInt8.self, repeating: 0, count: TLMFormat.align(n) - n)
            let bad = tl_quantize_q8_blocks(floats.values.baseAddress, n, values.assumingMemoryBound(to: Int8.self),
                                            (values + TLMFormat.align(n)).assumingMemoryBound(to: UInt16.self), nil)
            if let failure = QuantizationFailure(bad, in: floats.values.baseAddress!) { throw failure.error(tensor: m.gguf.name) }
            return WeightMatrix(rows: rows, cols: cols, scheme: .q8, bytes: out)
        default:
            throw ModelLoadError.unsupportedTensorType(source: file.path, name: m.gguf.name, type: m.gguf.type.name)
        }
    }

    package func loadVector(_ name: String, count: Int) throws -> [Float] {
        guard let m = byName[name] else { throw ModelLoadError.missingTensor(source: file.path, name: name) }
        guard m.gguf.elementCount == count else {
            throw ModelLoadError.wrongShape(source: file.path, name: m.gguf.name, expected: [count], found: m.gguf.dimensions.reversed())
        }
        guard let dtype = m.gguf.type.plainDType else {
            guard GGMLDequantize.supported.contains(m.gguf.type) else {
                throw ModelLoadError.unsupportedTensorType(source: file.path, name: m.gguf.name, type: m.gguf.type.name)
            }
            var out = [Float](repeating: 0, count: count)
            let raw = try file.checkedData(for: m.gguf, threads: threads)
            out.withUnsafeMutableBufferPointer { GGMLDequantize.dequantize(raw, type: m.gguf.type, count: count, into: $0.baseAddress!) }
            return out
        }
        return try floatValues(file.data(for: m.gguf), info: TensorInfo(name: name, dtype: dtype, shape: [count], dataOffsets: 0..<m.gguf.byteCount))
    }

    private func allocationError(_ n: Int, _ name: String) -> FileError {
        .readFailed(path: file.path, reason: "cannot allocate \(n) bytes for \"\(name)\"")
    }
}
