// How a tensor's values are stored in a .tlm file.

public enum WeightScheme: String, CaseIterable, Sendable {
    /// int8 in blocks of 32 along each row, one f16 scale per block (see docs/FORMAT.md).
    case q8 = "q8"
    /// int8 with one f32 scale per row.
    case q8Row = "q8-row"
    case f16 = "f16"
    case bf16 = "bf16"
    case f32 = "f32"

    public static let blockSize = 32

    public var isQuantized: Bool { self == .q8 || self == .q8Row }

    /// The float scheme that holds values of `dtype` exactly: f16 and bf16 as they are,
    /// anything else widened to f32.
    public static func float(holding dtype: DType) -> WeightScheme {
        dtype == .float16 ? .f16 : (dtype == .bfloat16 ? .bf16 : .f32)
    }

    /// Element type of the main plane.
    public var storageDType: DType {
        switch self {
        case .q8, .q8Row: return .int8
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f32: return .float32
        }
    }

    /// Bytes of the scale plane for a [rows, cols] matrix (0 for float schemes).
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
