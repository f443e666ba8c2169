// Element types of the safetensors specification, spelled as the format spells them.

public enum DType: String, CaseIterable, Sendable, Comparable {
    case bool = "BOOL"
    case float4 = "F4"  // E2M1, two per byte
    case float6E2M3 = "F6_E2M3"
    case float6E3M2 = "F6_E3M2"
    case uint8 = "U8"
    case int8 = "I8"
    case float8E5M2 = "F8_E5M2"
    case float8E4M3 = "F8_E4M3"
    case float8E8M0 = "F8_E8M0"
    case float8E4M3FNUZ = "F8_E4M3FNUZ"
    case float8E5M2FNUZ = "F8_E5M2FNUZ"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case complex64 = "C64"
    case float64 = "F64"
    case int64 = "I64"
    case uint64 = "U64"

    /// Storage size of one element in bits; sub-byte types pack tightly.
    public var bitSize: Int {
        switch self {
        case .float4: return 4
        case .float6E2M3, .float6E3M2: return 6
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3, .float8E8M0, .float8E4M3FNUZ, .float8E5M2FNUZ: return 8
        case .int16, .uint16, .float16, .bfloat16: return 16
        case .int32, .uint32, .float32: return 32
        case .complex64, .float64, .int64, .uint64: return 64
        }
    }

    /// True for types a weight matrix can be stored in and that we can widen to Float.
    public var isConvertibleToFloat: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64, .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .bool:
            return true
        default:
            return false
        }
    }

    private var order: Int { DType.allCases.firstIndex(of: self)! }
    public static func < (a: DType, b: DType) -> Bool { a.order < b.order }
}

/// Product of dimensions with overflow detection; nil if it does not fit in Int.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}
