// How each weight scheme is written in GGUF: its ggml type and the file type llama.cpp
// records for a file made of it. The one statement of the scheme ↔ GGML mapping that the
// converter, the .tlm conversion of a GGUF and the runner's GGUF loading read.

import TensorLedgerCore

extension WeightScheme {
    /// The ggml type a tensor of this scheme is written as; nil for q8-row, which GGUF lacks.
    public var ggmlType: GGMLType? {
        switch self {
        case .q8: return .q8_0
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        case .q8Row: return nil
        case .blocks(let t): return t
        }
    }

    /// The scheme that holds a ggml type's values as they are (Q8_0 is the q8 layout's
    /// numbers); nil for the types TensorLedger stores by requantizing.
    public init?(ggmlType: GGMLType) {
        guard let scheme = WeightScheme.allCases.first(where: { $0.ggmlType == ggmlType }) else { return nil }
        self = scheme
    }

    /// `general.file_type` of a file whose matrices are in this scheme (llama.cpp's llama_ftype).
    public var ggufFileType: UInt32 {
        switch self {
        case .f32, .q8Row: return 0
        case .f16: return 1
        case .q8: return 7
        case .bf16: return 32
        case .blocks(let t): return QuantMix.allCases.first { $0.baseType == t }?.fileType ?? 0
        }
    }
}
