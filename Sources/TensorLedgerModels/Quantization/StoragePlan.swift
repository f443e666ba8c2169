// How `convert` stores each tensor (scheme, layout, shape, raw size): the decision
// `convert`, its dry run and `plan` share, made from the tensor's role in its family.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ConversionError: TensorLedgerError, Equatable {
    case keepMatchesNothing(pattern: String)
    case alreadyQuantized(file: String, tensor: String, scheme: String)

    public var category: ErrorCategory {
        if case .alreadyQuantized = self { return .badInput }
        return .usage
    }

    public var description: String {
        switch self {
        case .keepMatchesNothing(let p):
            let categories = LedgerCategory.allCases.map(\.identifier).joined(separator: ", ")
            return "keep pattern \"\(p)\" is no category (\(categories)) and matches no tensor name"
        case .alreadyQuantized(let f, let t, let scheme):
            return "\(f): tensor \"\(t)\" shows the checkpoint is already quantized (\(scheme)); convert needs the float weights it was made from"
        }
    }
}

public struct ConversionOptions: Sendable {
    public var scheme: WeightScheme = .q8
    /// Tensor-name globs (`*wte*`) or category names (`embedding`) to keep in float.
    public var keep: [String] = []
    /// zstd level for float tensors and blobs; nil stores everything uncompressed.
    public var zstdLevel: Int32? = 3
    public var overwrite = false
    public var threads = 2
    /// The file written: .tlm, or GGUF for llama.cpp.
    public var format: OutputFormat = .tlm
    /// Asked before each tensor: true stops the conversion, and nothing is left behind.
    public var interrupted: @Sendable () -> Bool = { false }

    public enum OutputFormat: String, Sendable {
        case tlm, gguf
    }

    public init() {}
}

/// How `convert` stores one tensor: the decision `convert`, its dry run and `plan` share.
public struct TensorStorage: Sendable {
    public var category: LedgerCategory
    public var scheme: WeightScheme
    public var transposed: Bool
    public var fusedQKV: Bool
    /// Output shape (rows = output features for matrices).
    public var shape: [Int]
    public var rawBytes: Int
    /// Why a matrix stays in float, if it does.
    public var note: String?

    package init(category: LedgerCategory, scheme: WeightScheme, transposed: Bool, fusedQKV: Bool, shape: [Int], rawBytes: Int, note: String? = nil) {
        self.category = category
        self.scheme = scheme
        self.transposed = transposed
        self.fusedQKV = fusedQKV
        self.shape = shape
        self.rawBytes = rawBytes
        self.note = note
    }
}

public struct ConversionItem: Sendable {
    public var source: CheckpointTensor
    /// How it is stored (scheme, layout, shape, raw size): StoragePlan.storage's decision.
    public var storage: TensorStorage
    /// The source's own type and bytes where DType has no name for it (a GGUF block type:
    /// "Q4_K"); the .tlm header then records the values' type, f32.
    public var sourceBlocks: (type: String, bytes: Int)?

    package init(source: CheckpointTensor, storage: TensorStorage) {
        self.source = source
        self.storage = storage
    }
    public var category: LedgerCategory { storage.category }
    public var scheme: WeightScheme { storage.scheme }
    public var transposed: Bool { storage.transposed }
    public var fusedQKV: Bool { storage.fusedQKV }
    public var shape: [Int] { storage.shape }
    public var rawBytes: Int {
        get { storage.rawBytes }
        set { storage.rawBytes = newValue }
    }
    public var note: String? { storage.note }
    /// The source's element type and bytes, as reports name them.
    public var sourceTypeName: String { sourceBlocks?.type ?? source.info.dtype.rawValue }
    public var sourceBytes: Int { sourceBlocks?.bytes ?? source.info.byteCount }

    /// The category as reports name it: a fused attention weight is query+key+value.
    public var categoryName: String { fusedQKV ? "query+key+value" : category.identifier }
    // Filled in by the conversion:
    public var storedBytes: Int = 0
    public var encoding: TLMEncoding = .raw
    public var quality: QuantizationQuality?
    package var offset = 0
    package var checksum: UInt64 = 0

    package var entry: TLMTensorEntry {
        TLMTensorEntry(name: source.name, category: category, scheme: scheme, shape: shape, transposed: transposed, fusedQKV: fusedQKV,
                       sourceDType: source.info.dtype, offset: offset, storedBytes: storedBytes, rawBytes: rawBytes,
                       encoding: encoding, checksum: checksum, quality: quality.map(TLMQuality.init))
    }
}

public enum StoragePlan {
    /// nil for a buffer that is not a parameter (dropped).
    public static func storage(of info: TensorInfo, family: ArchitectureFamily?, options: ConversionOptions) throws -> TensorStorage? {
        let role = family.map { TensorClassifier.role(of: info, family: $0) } ?? .unmatched
        if role == .buffer { return nil }
        guard info.dtype.isConvertibleToFloat else { throw TensorDataError.notConvertible(tensor: info.name, dtype: info.dtype) }
        var category = LedgerCategory.other
        var layout = MatrixLayout.linear
        var isMatrix = false
        var fused = false
        switch role {
        case .matrix(let c, let l): category = c; layout = l; isMatrix = true
        case .fusedQKV(let l): category = .query; layout = l; isMatrix = true; fused = true
        default: break
        }
        let transposed = isMatrix && layout == .conv1D && category != .embedding
        let shape = transposed ? [info.shape[1], info.shape[0]] : info.shape
        let floatScheme = WeightScheme.float(holding: info.dtype)
        var scheme: WeightScheme
        var note: String?
        if !isMatrix {
            scheme = .f32
        } else if keeps(info.name, category: category, patterns: options.keep) {
            scheme = options.scheme.isQuantized ? floatScheme : options.scheme
            note = "kept in float as asked"
        } else if options.scheme == .q8 && shape[1] % WeightScheme.blockSize != 0 {
            scheme = floatScheme
            note = "\(shape[1]) columns are not a multiple of 32"
        } else {
            scheme = options.scheme
        }
        return TensorStorage(category: category, scheme: scheme, transposed: transposed, fusedQKV: fused, shape: shape,
                       rawBytes: TLMTensorEntry.expectedRawBytes(shape: shape, scheme: scheme)!, note: note)
    }

    /// The size of the .tlm file `convert` writes for these tensors, before compression and
    /// without the header and embedded files.
    public static func estimatedFileBytes(rawBytes: [Int]) -> Int {
        TLMFormat.preambleSize + rawBytes.reduce(0) { $0 + TLMFormat.align($1) }
    }

    package static func keeps(_ name: String, category: LedgerCategory, patterns: [String]) -> Bool {
        patterns.contains { p in p == category.identifier || p == category.rawValue.lowercased() || fnmatch(p, name, 0) == 0 }
    }

    /// A `--keep` pattern that names no category and matches no tensor is a typo, not a choice.
    public static func checkKeep(_ patterns: [String], names: [String]) throws(ConversionError) {
        for p in patterns where !LedgerCategory.allCases.contains(where: { p == $0.identifier || p == $0.rawValue.lowercased() }) {
            if !names.contains(where: { fnmatch(p, $0, 0) == 0 }) { throw .keepMatchesNothing(pattern: p) }
        }
    }
}
