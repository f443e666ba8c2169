// How a tensor's values are stored in a .tlm file or a GGUF: one case per scheme, and for
// each its layout (what docs/FORMAT.md specifies). ggml's block types are schemes too:
// their bytes are the same in a .tlm file as in a GGUF, and the runner uses them as stored.

public enum WeightScheme: Hashable, Sendable, CaseIterable, RawRepresentable {
    /// int8 in blocks of 32 along each row, one f16 scale per block (see docs/FORMAT.md).
    case q8
    /// int8 with one f32 scale per row.
    case q8Row
    case f16
    case bf16
    case f32
    /// Rows of ggml blocks (Q4_0 … Q6_K, IQ4_NL), as a GGUF stores them.
    case blocks(GGMLType)

    public static let blockSize = 32

    /// The ggml block types written as schemes (Q8_0 is q8's numbers and is written as q8).
    public static let blockTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL]

    /// The schemes of a whole model that `plan` and `convert` offer without a mix.
    public static let plain: [WeightScheme] = [.q8, .q8Row, .f16, .bf16, .f32]

    public static var allCases: [WeightScheme] { plain + blockTypes.map { .blocks($0) } }

    public init?(rawValue: String) {
        guard let s = WeightScheme.allCases.first(where: { $0.rawValue == rawValue.lowercased() }) else { return nil }
        self = s
    }

    public var rawValue: String {
        switch self {
        case .q8: return "q8"
        case .q8Row: return "q8-row"
        case .f16: return "f16"
        case .bf16: return "bf16"
        case .f32: return "f32"
        case .blocks(let t): return t.name.lowercased()
        }
    }

    public var isQuantized: Bool {
        switch self {
        case .q8, .q8Row, .blocks: return true
        default: return false
        }
    }

    /// The ggml type of a block scheme.
    public var blockType: GGMLType? {
        if case .blocks(let t) = self { return t }
        return nil
    }

    /// Values per block along a row: a row's length must be a multiple of it.
    public var rowMultiple: Int {
        switch self {
        case .q8: return WeightScheme.blockSize
        case .blocks(let t): return t.blockLayout.size
        default: return 1
        }
    }

    /// The float scheme that holds values of `dtype` exactly: f16 and bf16 as they are,
    /// anything else widened to f32.
    public static func float(holding dtype: DType) -> WeightScheme {
        dtype == .float16 ? .f16 : (dtype == .bfloat16 ? .bf16 : .f32)
    }

    /// Element type of the main plane (bytes, for ggml's blocks).
    public var storageDType: DType {
        switch self {
        case .q8, .q8Row: return .int8
        case .blocks: return .uint8
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f32: return .float32
        }
    }

    /// Bytes of the scale plane for a [rows, cols] matrix (0 for float schemes and for
    /// ggml's blocks, which hold their scales).
    public func scaleBytes(rows: Int, cols: Int) -> Int {
        switch self {
        case .q8: return rows * (cols / WeightScheme.blockSize) * 2
        case .q8Row: return rows * 4
        default: return 0
        }
    }
}

/// Error statistics of a quantized tensor against its original values.
public struct QuantizationQuality: Sendable, Equatable {
    public var sumSquaredError: Double = 0
    public var sumSquares: Double = 0
    public var maxAbsoluteError: Float = 0
    public var count: Int = 0

    public init() {}

    public var rmse: Double { count > 0 ? (sumSquaredError / Double(count)).squareRoot() : 0 }
    /// Signal-to-noise ratio in dB; infinite when the quantization is exact.
    public var snrDecibels: Double {
        guard sumSquaredError > 0 else { return .infinity }
        guard sumSquares > 0 else { return -.infinity }
        return 10 * log10(sumSquares / sumSquaredError)
    }

    public mutating func merge(_ other: QuantizationQuality) {
        sumSquaredError += other.sumSquaredError
        sumSquares += other.sumSquares
        maxAbsoluteError = max(maxAbsoluteError, other.maxAbsoluteError)
        count += other.count
    }

    public var json: JSONValue {
        .object(JSONObject([
            "rmse": .double(rmse),
            "max_abs_error": .double(Double(maxAbsoluteError)),
            "snr_db": snrDecibels.isFinite ? .double(snrDecibels) : .null,
        ]))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
