// The tensor types of ggml (GGUF's tensor data), with their block sizes and bytes per
// block as the `gguf` package's GGML_QUANT_SIZES gives them: a tensor's rows are a whole
// number of blocks, and its bytes are (elements / block size) × bytes per block.

import CKernels

public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .mxfp4: return "MXFP4"
        default: return String(describing: self).uppercased()
        }
    }

    /// (elements per block, bytes per block).
    public var blockLayout: (size: Int, bytes: Int) {
        switch self {
        case .f32, .i32: return (1, 4)
        case .f16, .bf16, .i16: return (1, 2)
        case .f64, .i64: return (1, 8)
        case .i8: return (1, 1)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 40)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .iq2_XXS: return (256, 66)
        case .iq2_XS: return (256, 74)
        case .iq3_XXS: return (256, 98)
        case .iq1_S: return (256, 50)
        case .iq4_NL: return (32, 18)
        case .iq3_S: return (256, 110)
        case .iq2_S: return (256, 82)
        case .iq4_XS: return (256, 136)
        case .iq1_M: return (256, 56)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        case .mxfp4: return (32, 17)
        }
    }

    public var bitsPerWeight: Double { Double(blockLayout.bytes * 8) / Double(blockLayout.size) }

    /// The safetensors dtype holding the same values, for the unquantized types.
    public var plainDType: DType? {
        switch self {
        case .f32: return .float32
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f64: return .float64
        case .i8: return .int8
        case .i16: return .int16
        case .i32: return .int32
        case .i64: return .int64
        default: return nil
        }
    }
}

extension GGMLType {
    /// The kernel that multiplies rows of this type as stored; nil where there is none.
    public var blockKernel: tl_block_type? {
        switch self {
        case .q8_0: return TL_BLOCKS_Q8_0
        case .q4_0: return TL_BLOCKS_Q4_0
        case .q4_1: return TL_BLOCKS_Q4_1
        case .q5_0: return TL_BLOCKS_Q5_0
        case .q5_1: return TL_BLOCKS_Q5_1
        case .q4_K: return TL_BLOCKS_Q4_K
        case .q5_K: return TL_BLOCKS_Q5_K
        case .q6_K: return TL_BLOCKS_Q6_K
        case .q2_K: return TL_BLOCKS_Q2_K
        case .q3_K: return TL_BLOCKS_Q3_K
        case .iq4_NL: return TL_BLOCKS_IQ4_NL
        case .iq4_XS: return TL_BLOCKS_IQ4_XS
        default: return nil
        }
    }
}
