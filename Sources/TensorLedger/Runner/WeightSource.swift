// Where the runner's weights come from: a .tlm file (int8 and f16 used in place from
// the mapping, every checksum checked on load) or a safetensors checkpoint (widened to
// f32 rows, Conv1D matrices transposed), behind one interface.

public enum ModelLoadError: TensorLedgerError, Equatable {
    case missingTensor(source: String, name: String)
    case wrongShape(source: String, name: String, expected: [Int], found: [Int])
    case unsupportedArchitecture(source: String, family: String)
    case noConfig(source: String)
    case noTokenizer(source: String)
    case headsDoNotDivideWidth(source: String, width: Int, heads: Int)
    case unsupportedSetting(source: String, field: String, value: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .missingTensor(let s, let n): return "\(s): the model has no tensor \"\(n)\""
        case .wrongShape(let s, let n, let e, let f): return "\(s): tensor \"\(n)\" has shape \(f), the configuration needs \(e)"
        case .unsupportedArchitecture(let s, let f): return "\(s): the runner runs GPT-2 and LLaMA-family models; this one is \(f)"
        case .noConfig(let s): return "\(s): no model configuration (config.json beside the weights, or in the .tlm header)"
        case .noTokenizer(let s): return "\(s): no tokenizer (tokenizer.json beside the weights, or embedded in the .tlm file)"
        case .headsDoNotDivideWidth(let s, let d, let h): return "\(s): the model width \(d) is not a multiple of its \(h) attention heads"
        case .unsupportedSetting(let s, let f, let v): return "\(s): the runner does not support \(f) \(v)"
        }
    }
}

protocol WeightSource {
    var sourceName: String { get }
    var config: ModelConfig? { get }
    func tokenizer() throws -> BPETokenizer
    /// A matrix in row layout (rows = output features). `conv1D`: a checkpoint stores it
    /// as [in, out] (GPT-2's Conv1D); a .tlm file already holds it in rows.
    func matrix(_ name: String, rows: Int, cols: Int, conv1D: Bool) throws -> WeightMatrix
    func vector(_ name: String, count: Int) throws -> [Float]
    func has(_ name: String) -> Bool
}

struct TLMWeights: WeightSource {
    let file: TLMFile
    var sourceName: String { file.path }
    var config: ModelConfig? { file.header.config }

    func tokenizer() throws -> BPETokenizer { try BPETokenizer.embedded(in: file) }

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    func entry(_ name: String, _ shape: [Int]) throws -> TLMTensorEntry {
        guard let e = file.tensor(named: name) else { throw ModelLoadError.missingTensor(source: file.path, name: name) }
        guard e.shape == shape else { throw ModelLoadError.wrongShape(source: file.path, name: name, expected: shape, found: e.shape) }
        return e
    }

    func matrix(_ name: String, rows: Int, cols: Int, conv1D: Bool) throws -> WeightMatrix {
        let e = try entry(name, [rows, cols])
        return WeightMatrix(rows: rows, cols: cols, scheme: e.scheme, bytes: try file.rawBytes(of: e))
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        let e = try entry(name, [count])
        let raw = try file.rawBytes(of: e)
        return try withExtendedLifetime(raw) {
            try floatValues(raw.bytes, info: TensorInfo(name: name, dtype: e.scheme.storageDType, shape: [count], dataOffsets: 0..<raw.bytes.count))
        }
    }
}

struct CheckpointWeights: WeightSource {
    let checkpoint: Checkpoint
    let config: ModelConfig?
    var sourceName: String { checkpoint.path }

    func tokenizer() throws -> BPETokenizer {
        guard let p = checkpoint.sidecar("tokenizer.json") else { throw ModelLoadError.noTokenizer(source: checkpoint.directory) }
        return try BPETokenizer.load(p)
    }

    func find(_ name: String) -> CheckpointTensor? { checkpoint.tensor(named: name) }

    func has(_ name: String) -> Bool { find(name) != nil }

    func matrix(_ name: String, rows: Int, cols: Int, conv1D transposed: Bool) throws -> WeightMatrix {
        guard let t = find(name) else { throw ModelLoadError.missingTensor(source: checkpoint.path, name: name) }
        guard t.info.shape == (transposed ? [cols, rows] : [rows, cols]) else {
            throw ModelLoadError.wrongShape(source: checkpoint.path, name: name, expected: [rows, cols], found: t.info.shape)
        }
        guard let out = TensorBytes(capacity: rows * cols * 4) else {
            throw FileError.readFailed(path: checkpoint.path, reason: "cannot allocate \(rows * cols * 4) bytes for \"\(name)\" in f32")
        }
        let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
        if transposed {
            try TensorEncoder.transposeToFloat(checkpoint.data(for: t), dtype: t.info.dtype, inRows: cols, inCols: rows, into: dst, threads: 2, tensor: name)
        } else {
            try convertToFloat(checkpoint.data(for: t), dtype: t.info.dtype, into: UnsafeMutableBufferPointer(start: dst, count: rows * cols), tensor: name)
        }
        return WeightMatrix(rows: rows, cols: cols, scheme: .f32, bytes: out)
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        guard let t = find(name) else { throw ModelLoadError.missingTensor(source: checkpoint.path, name: name) }
        guard t.info.elementCount == count else {
            throw ModelLoadError.wrongShape(source: checkpoint.path, name: name, expected: [count], found: t.info.shape)
        }
        return try floatValues(checkpoint.data(for: t), info: t.info)
    }
}
