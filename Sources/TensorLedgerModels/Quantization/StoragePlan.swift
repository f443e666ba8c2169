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
    /// A GGUF tensor already in a quantized type, to be quantized again without --allow-requantize.
    case requantizing(file: String, tensor: String, from: String, to: String)

    public var category: ErrorCategory {
        switch self {
        case .alreadyQuantized, .requantizing: return .badInput
        case .keepMatchesNothing: return .usage
        }
    }

    public var description: String {
        switch self {
        case .keepMatchesNothing(let p):
            let categories = LedgerCategory.allCases.map(\.identifier).joined(separator: ", ")
            return "keep pattern \"\(p)\" is no category (\(categories)) and matches no tensor name"
        case .alreadyQuantized(let f, let t, let scheme):
            return "\(f): tensor \"\(t)\" shows the checkpoint is already quantized (\(scheme)); convert needs the float weights it was made from"
        case .requantizing(let f, let t, let from, let to):
            return "\(f): tensor \"\(t)\" is already \(from); making it \(to) would round it twice and lose more than quantizing the float weights once. Convert the float model, or pass --allow-requantize to do it anyway"
        }
    }
}

public struct ConversionOptions: Sendable {
    /// The scheme of the weight matrices; with a mix, the mix's base type.
    public var scheme: WeightScheme = .q8
    /// llama-quantize's per-tensor rules (Q4_K_M …), when a mix was asked for.
    public private(set) var mix: QuantMix?
    /// Tensor-name globs (`*wte*`) or category names (`embedding`) to keep in float.
    public var keep: [String] = []
    /// zstd level for float tensors and blobs; nil stores everything uncompressed.
    public var zstdLevel: Int32? = 3
    public var overwrite = false
    /// Quantize a GGUF's already quantized matrices again (llama-quantize's --allow-requantize):
    /// the result carries both roundings.
    public var allowRequantize = false
    public var threads = 2
    /// The file written: .tlm, or GGUF for llama.cpp.
    public var format: OutputFormat = .tlm
    /// Asked before each tensor: true stops the conversion, and nothing is left behind.
    public var interrupted: @Sendable () -> Bool = { false }

    public enum OutputFormat: String, Sendable {
        case tlm, gguf
    }

    public init() {}

    /// What `--weights` asked for: a scheme, or a mix and its base type.
    public var weights: WeightChoice {
        get { mix.map { .mix($0) } ?? .scheme(scheme) }
        set {
            switch newValue {
            case .scheme(let s): (scheme, mix) = (s, nil)
            case .mix(let m): (scheme, mix) = (WeightScheme(ggmlType: m.baseType)!, m)
            }
        }
    }
}

/// `--weights`: one scheme for every matrix (q8, f16, …), or one of llama-quantize's
/// mixes (Q4_K_M …), whose rules choose each matrix's type.
public enum WeightChoice: Sendable, Equatable {
    case scheme(WeightScheme)
    case mix(QuantMix)

    /// q8, q8-row, f16, bf16, f32, or a mix as llama-quantize names it (any case); Q8_0
    /// is q8 (the same bytes in a GGUF).
    public init?(name: String) {
        if let s = WeightScheme.plain.first(where: { $0.rawValue == name.lowercased() }) {
            self = .scheme(s)
        } else if let m = QuantMix(name: name) {
            self = m == .q8_0 ? .scheme(.q8) : .mix(m)
        } else {
            return nil
        }
    }

    public var name: String {
        switch self {
        case .scheme(let s): return s.rawValue
        case .mix(let m): return m.name
        }
    }

    public var isQuantized: Bool {
        if case .scheme(let s) = self { return s.isQuantized }
        return true
    }

    /// `general.file_type` of a GGUF file written so.
    public var ggufFileType: UInt32 {
        switch self {
        case .scheme(let s): return s.ggufFileType
        case .mix(let m): return m.fileType
        }
    }

    public static var allNames: [String] { WeightScheme.plain.map(\.rawValue) + QuantMix.allCases.filter { $0 != .q8_0 }.map(\.name) }
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
    /// Added to every value on the way out: Gemma's norm weights are 1 + w in GGUF and w in
    /// a checkpoint or a .tlm file.
    public var valueShift: Float = 0
    /// Its bytes follow the previous item's with no padding: an expert after the first of a
    /// GGUF tensor that stacks a layer's experts.
    public var continuesPrevious = false
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
    /// nil for a buffer that is not a parameter (dropped). A mix's rules look at `mixModel`
    /// (QuantMix.Model(config:names:)).
    public static func storage(of info: TensorInfo, family: ArchitectureFamily?, options: ConversionOptions,
                               mixModel: QuantMix.Model? = nil) throws -> TensorStorage? {
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
        } else if let mix = options.mix {
            let layer = TensorClassifier.layerIndex(of: info.name)
            let mixRole: QuantMix.Role
            switch category {
            case _ where fused: mixRole = .attnQKV
            case .unembedding: mixRole = .output
            case .embedding: mixRole = .tokenEmbedding
            case .value: mixRole = .attnV
            case .key: mixRole = .attnK
            case .output: mixRole = .attnOutput
            case .downProjection: mixRole = .ffnDown
            default: mixRole = .other
            }
            let model = mixModel ?? QuantMix.Model(layers: 0, gqa: 1, hasOutput: true)
            if let type = mix.type(of: mixRole, layer: layer, cols: shape[1], model: model) {
                scheme = WeightScheme(ggmlType: type)!  // every type a mix gives is written
            } else {
                // llama.cpp's last resort, F16, where no block type divides the rows.
                scheme = .f16
                note = "\(shape[1]) columns are not a multiple of 32"
            }
        } else if shape[1] % options.scheme.rowMultiple != 0 {
            scheme = floatScheme
            note = "\(shape[1]) columns are not a multiple of \(options.scheme.rowMultiple)"
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

extension QuantMix.Model {
    /// What a mix's rules look at, from a model's configuration and tensors: the output
    /// matrix is the model's own unless the head is tied to the embedding.
    public init(config: ModelConfig, tensors: [TensorInfo]) {
        let ignored = config.ignoredTiedHead(in: tensors.map(\.name))
        let hasOutput = tensors.contains { t in
            guard t.name != ignored, case .matrix(.unembedding, _) = TensorClassifier.role(of: t, family: config.family) else { return false }
            return true
        }
        self.init(config: config, hasOutput: hasOutput)
    }

    /// From a configuration, given whether the file has an output matrix of its own (a GGUF's
    /// output.weight, which llama.cpp's rules look for).
    public init(config: ModelConfig, hasOutput: Bool) {
        // llama.cpp's 70B: a Llama of 80 layers with grouped queries.
        let is70B = config.family == .llama && config.layers == 80 && config.kvHeads != config.heads
        self.init(layers: config.layers, gqa: config.heads / max(config.kvHeads, 1), hasOutput: hasOutput, is70B: is70B, experts: config.experts)
    }
}
