// A model file's tensors as f32 values in the layout its source checkpoint had, a tensor
// or a band of its rows at a time: a safetensors checkpoint's f32 tensors straight from the mapping,
// other dtypes widened; a .tlm file's dequantized (and transposed back where conversion
// transposed them). What `diff` compares.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import CKernels

/// One tensor's values: borrowed from a mapping, or owned.
public final class TensorValues: @unchecked Sendable {
    public let values: UnsafeBufferPointer<Float>
    private let owned: UnsafeMutableBufferPointer<Float>?
    private let keepAlive: AnyObject?

    package init(borrowing values: UnsafeBufferPointer<Float>, from owner: AnyObject) {
        self.values = values
        owned = nil
        keepAlive = owner
    }

    /// Room for `count` values, or nil when the memory cannot be had.
    package init?(count: Int) {
        guard let bytes = TensorBytes(capacity: count * MemoryLayout<Float>.size) else { return nil }
        let p = bytes.mutableBytes.baseAddress!.bindMemory(to: Float.self, capacity: count)
        owned = UnsafeMutableBufferPointer(start: p, count: count)
        values = UnsafeBufferPointer(start: p, count: count)
        keepAlive = bytes
    }

    package var mutable: UnsafeMutableBufferPointer<Float> { owned! }
}

public final class TensorValueReader {
    public let path: String
    /// Tensors with their source shapes, in file order.
    public let tensors: [TensorInfo]
    public let config: ModelConfig?
    /// How each tensor is stored ("F32", "q8", …), by name.
    public let storage: [String: String]
    private var checkpoint: Checkpoint?
    private var tlm: TLMFile?
    private var gguf: GGUFFile?
    private var ggufTensors: [String: GGUFTensorMapping]
    /// The last .tlm tensor's bytes, checked (and decoded) once for all its bands.
    private var lastRaw: (name: String, bytes: TensorBytes)?

    public init(path: String) throws {
        let file = try ModelFile.open(path)
        self.path = file.path
        tensors = file.tensors
        config = try file.config()
        (checkpoint, tlm, gguf, ggufTensors) = (nil, nil, nil, [:])
        switch file {
        case .checkpoint(let c):
            checkpoint = c
            storage = Dictionary(c.tensors.map { ($0.name, $0.info.dtype.rawValue) }, uniquingKeysWith: { a, _ in a })
        case .tlm(let t):
            tlm = t
            storage = Dictionary(t.tensors.map { ($0.name, $0.scheme.rawValue) }, uniquingKeysWith: { a, _ in a })
        case .gguf(let g):
            gguf = g
            let mapped = g.huggingFaceTensors(parametersOnly: true)
            ggufTensors = Dictionary(mapped.map { ($0.info.name, $0) }, uniquingKeysWith: { a, _ in a })
            storage = file.typeNames
        }
    }

    /// Whether `rows` can read a tensor a band of rows at a time (a matrix that conversion
    /// transposed is only read whole).
    public func readsByRows(_ name: String) -> Bool {
        if let m = ggufTensors[name] { return !m.conv1D }
        guard let tlm else { return true }
        return tlm.tensor(named: name).map { !$0.transposed } ?? true
    }

    /// The values of tensor `name` in its source layout, whole.
    public func values(_ name: String) throws -> TensorValues {
        guard let t = tensors.first(where: { $0.name == name }) else { throw ModelLoadError.missingTensor(source: path, name: name) }
        return try values(name, rows: 0..<(t.shape.first ?? 1))
    }

    /// Rows `rows` (along the first dimension) of tensor `name` in its source layout; the
    /// whole range for a tensor `readsByRows` refuses.
    public func values(_ name: String, rows: Range<Int>) throws -> TensorValues {
        if let checkpoint, let t = checkpoint.tensor(named: name) {
            let rowValues = t.info.elementCount / max(t.info.shape.first ?? 1, 1)
            let n = rows.count * rowValues, first = rows.lowerBound * rowValues
            let raw = checkpoint.data(for: t)
            if t.info.dtype == .float32, let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return TensorValues(borrowing: UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self) + first, count: n), from: checkpoint)
            }
            let width = t.info.dtype.bitSize / 8
            let out = try buffer(n, name)
            try convertToFloat(UnsafeRawBufferPointer(rebasing: raw[(first * width)..<((first + n) * width)]), dtype: t.info.dtype, into: out.mutable, tensor: name)
            return out
        }
        if let gguf, let m = ggufTensors[name] { return try ggufValues(gguf, m, rows: rows) }
        guard let tlm, let e = tlm.tensor(named: name) else { throw ModelLoadError.missingTensor(source: path, name: name) }
        let raw = try lastRaw.flatMap { $0.name == name ? $0.bytes : nil } ?? tlm.rawBytes(of: e)
        lastRaw = (name, raw)
        if e.shape.count == 2 {
            let (storedRows, cols) = (e.shape[0], e.shape[1])
            let matrix = WeightMatrix(rows: storedRows, cols: cols, scheme: e.scheme, bytes: raw)
            if e.transposed {
                // Rows of the stored matrix are columns of the source's [in, out].
                let n = storedRows * cols
                guard let stored = TensorValues(count: n) else { throw memoryError(n, name) }
                for r in 0..<storedRows { matrix.row(r, into: stored.mutable.baseAddress! + r * cols) }
                let out = try buffer(n, name)
                tl_transpose_f32(stored.values.baseAddress, storedRows, cols, 0, cols, out.mutable.baseAddress)
                return out
            }
            let out = try buffer(rows.count * cols, name)
            for r in rows { matrix.row(r, into: out.mutable.baseAddress! + (r - rows.lowerBound) * cols) }
            return out
        }
        let out = try buffer(e.shape.reduce(1, *), name)
        try withExtendedLifetime(raw) {
            try convertToFloat(raw.bytes, dtype: e.scheme.storageDType, into: out.mutable, tensor: name)
        }
        return out
    }

    /// Lets the kernel drop the pages of a tensor's rows (all of them when nil) once they
    /// have been read.
    public func release(_ name: String, rows: Range<Int>? = nil) {
        if let checkpoint, let t = checkpoint.tensor(named: name) {
            let rowBytes = t.info.byteCount / max(t.info.shape.first ?? 1, 1)
            checkpoint.releasePages(of: t, bytes: rows.map { ($0.lowerBound * rowBytes)..<($0.upperBound * rowBytes) })
        }
        if let gguf, let m = ggufTensors[name], let raw = try? gguf.checkedData(for: m.gguf), let base = raw.baseAddress {
            let storedRows = m.gguf.elementCount / max(m.gguf.dimensions.first ?? 1, 1), rowBytes = raw.count / max(storedRows, 1)
            // Rows read in another order (llama's Q and K) or whole go once the last is read.
            let permuted = (try? config.flatMap { try gguf.rowPermutation(name, rows: storedRows, config: $0) }) != nil
            if let rows, !permuted, !m.conv1D, m.info.shape.count == 2, rows.upperBound <= storedRows {
                releasePages(base + rows.lowerBound * rowBytes, byteCount: rows.count * rowBytes)
            } else if rows == nil || rows!.upperBound >= storedRows || m.conv1D || m.info.shape.count != 2 {
                releasePages(base, byteCount: raw.count)
            }
        }
        if let tlm, let e = tlm.tensor(named: name), rows == nil || rows!.upperBound >= e.shape.first ?? 1 || e.transposed {
            tlm.releasePages(of: e)
            lastRaw = nil
        }
    }

    /// A GGUF tensor's rows in Hugging Face's order (llama's Q and K un-permuted), or the
    /// whole of a Conv1D matrix, which GGUF holds as rows of outputs, transposed back.
    private func ggufValues(_ file: GGUFFile, _ m: GGUFTensorMapping, rows: Range<Int>) throws -> TensorValues {
        guard GGMLDequantize.supported.contains(m.gguf.type) else {
            throw ModelLoadError.unsupportedTensorType(source: path, name: m.gguf.name, type: m.gguf.type.name)
        }
        let raw = try file.checkedData(for: m.gguf)
        let cols = m.gguf.dimensions[0], storedRows = m.gguf.elementCount / max(cols, 1)
        let rowBytes = raw.count / max(storedRows, 1)
        func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
            GGMLDequantize.dequantize(UnsafeRawBufferPointer(rebasing: raw[(r * rowBytes)..<((r + 1) * rowBytes)]), type: m.gguf.type, count: cols, into: out)
        }
        if m.info.shape.count != 2 {
            let out = try buffer(m.gguf.elementCount, m.info.name)
            GGMLDequantize.dequantize(raw, type: m.gguf.type, count: m.gguf.elementCount, into: out.mutable.baseAddress!)
            return out
        }
        if m.conv1D {
            let n = storedRows * cols
            guard let stored = TensorValues(count: n) else { throw memoryError(n, m.info.name) }
            for r in 0..<storedRows { row(r, into: stored.mutable.baseAddress! + r * cols) }
            let out = try buffer(n, m.info.name)
            tl_transpose_f32(stored.values.baseAddress, storedRows, cols, 0, cols, out.mutable.baseAddress)
            return out
        }
        let permutation = try config.flatMap { try file.rowPermutation(m.info.name, rows: storedRows, config: $0) }
        let out = try buffer(rows.count * cols, m.info.name)
        for r in rows { row(permutation?.storedRow(r) ?? r, into: out.mutable.baseAddress! + (r - rows.lowerBound) * cols) }
        return out
    }

    private func buffer(_ n: Int, _ name: String) throws -> TensorValues {
        guard let b = TensorValues(count: n) else { throw memoryError(n, name) }
        return b
    }

    private func memoryError(_ n: Int, _ name: String) -> FileError {
        .readFailed(path: path, reason: "cannot allocate \(n * 4) bytes for \"\(name)\" in f32")
    }
}
