// llama-quantize's named mixes (Q4_K_M, Q3_K_S, …): a base type, and the rules by which
// llama.cpp gives some matrices more bits (the output matrix, some layers' attn_v and
// ffn_down, attn_output) or another type when a row is not a whole number of blocks.
// These are llama.cpp's rules for files without an importance matrix, so a file we write
// holds the types llama-quantize would choose, tensor for tensor (README: "Quantization
// mixes"). The rules are stated by the tensor's role, so they apply to .tlm files too.

import TensorLedgerCore

public enum QuantMix: String, CaseIterable, Sendable {
    case q4_0, q4_1, q5_0, q5_1, q8_0
    case q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k
    case iq4_nl

    /// A name as llama-quantize spells it, in any case; Q3_K, Q4_K and Q5_K are its
    /// aliases of the _M mixes.
    public init?(name: String) {
        let n = name.lowercased()
        let aliases = ["q3_k": QuantMix.q3_k_m, "q4_k": .q4_k_m, "q5_k": .q5_k_m]
        guard let mix = QuantMix(rawValue: n) ?? aliases[n] else { return nil }
        self = mix
    }

    /// The name llama-quantize prints: Q4_K_M.
    public var name: String { rawValue.uppercased() }

    /// The type of every matrix the rules leave alone.
    public var baseType: GGMLType {
        switch self {
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q8_0: return .q8_0
        case .q2_k: return .q2_K
        case .q3_k_s, .q3_k_m, .q3_k_l: return .q3_K
        case .q4_k_s, .q4_k_m: return .q4_K
        case .q5_k_s, .q5_k_m: return .q5_K
        case .q6_k: return .q6_K
        case .iq4_nl: return .iq4_NL
        }
    }

    /// `general.file_type` of a file of this mix (llama.cpp's llama_ftype).
    public var fileType: UInt32 {
        switch self {
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q2_k: return 10
        case .q3_k_s: return 11
        case .q3_k_m: return 12
        case .q3_k_l: return 13
        case .q4_k_s: return 14
        case .q4_k_m: return 15
        case .q5_k_s: return 16
        case .q5_k_m: return 17
        case .q6_k: return 18
        case .iq4_nl: return 25
        }
    }

    /// What the rules look at in a model.
    public struct Model: Sendable, Equatable {
        public var layers: Int
        /// Query heads per key/value head.
        public var gqa: Int
        /// Whether the model has its own output matrix; if not, the embedding is quantized
        /// as the output would be (it is the output, tied).
        public var hasOutput: Bool
        /// llama.cpp's 70B Llama (80 layers, grouped queries): attn_v gets Q5_K.
        public var is70B: Bool
        public var experts: Int

        public init(layers: Int, gqa: Int, hasOutput: Bool, is70B: Bool = false, experts: Int = 0) {
            (self.layers, self.gqa, self.hasOutput, self.is70B, self.experts) = (layers, gqa, hasOutput, is70B, experts)
        }
    }

    /// A matrix as the rules see it: its role (GGUF's name for it) and layer.
    public enum Role: Sendable, Equatable {
        case output, tokenEmbedding, attnV, attnK, attnQKV, attnOutput, ffnDown, other
    }

    /// A GGUF tensor's role, by the names llama.cpp's rules look for.
    public static func role(ofGGUF name: String) -> Role {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" { return .tokenEmbedding }
        if name.contains("attn_v.weight") { return .attnV }
        if name.contains("attn_k.weight") { return .attnK }
        if name.contains("attn_qkv.weight") { return .attnQKV }
        if name.contains("ffn_down") { return .ffnDown }
        if name.contains("attn_output.weight") { return .attnOutput }
        return .other
    }

    /// Whether llama-quantize quantizes a GGUF tensor at all: matrices named …weight, but
    /// not norms, routers (ffn_gate_inp), position or token-type embeddings.
    public static func quantizes(ggufName name: String, dimensions: Int) -> Bool {
        dimensions >= 2 && name.hasSuffix("weight") && !name.contains("_norm.weight") && !name.contains("ffn_gate_inp.weight")
            && name != "position_embd.weight" && name != "token_types.weight"
    }

    /// The type llama-quantize gives a matrix of `role` in `layer` with rows of `cols`
    /// values; nil when it stays in float (F16: no block type divides its rows).
    public func type(of role: Role, layer: Int?, cols: Int, model m: Model) -> GGMLType? {
        var t = baseType
        let i = layer ?? 0, n = m.layers
        // llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
        let moreBits = i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
        switch role {
        case .tokenEmbedding where m.hasOutput:
            break
        case .output, .tokenEmbedding:
            if cols % t.blockLayout.size != 0 { t = .q8_0 } else if t != .q8_0 { t = .q6_K }
        case .attnV, .attnQKV:
            // A fused Q·K·V matrix is ruled as attn_v is (what llama-quantize does today).
            switch self {
            case .q2_k: t = m.gqa >= 4 ? .q4_K : .q3_K
            case .q3_k_m: t = i < 2 ? .q5_K : .q4_K
            case .q3_k_l: t = .q5_K
            case .q4_k_m, .q5_k_m: if moreBits { t = .q6_K }
            case .q4_k_s: if i < 4 { t = .q5_K }
            case .iq4_nl: if m.gqa >= 4 { t = .q5_K }
            default: break
            }
            if m.is70B && (t == .q3_K || t == .q4_K) { t = .q5_K }
            if m.experts == 8 { t = .q8_0 }
        case .attnK:
            if m.experts == 8 { t = .q8_0 }
        case .ffnDown:
            switch self {
            case .q2_k: t = .q3_K
            case .q3_k_m: t = i < n / 16 ? .q5_K : .q4_K
            case .q3_k_l: t = .q5_K
            case .q4_k_m: if moreBits { t = .q6_K }
            case .q5_k_m: if moreBits { t = .q6_K }
            case .q4_k_s: if i < n / 8 { t = .q5_K }
            case .iq4_nl: if i < n / 8 { t = .q5_K }
            default: break
            }
        case .attnOutput:
            if m.experts == 8 {
                if [.q2_k, .q3_k_s, .q3_k_m, .q4_k_s, .q4_k_m, .iq4_nl].contains(self) { t = .q5_K }
            } else {
                switch self {
                case .q2_k: t = .q3_K
                case .q3_k_m: t = .q4_K
                case .q3_k_l: t = .q5_K
                default: break
                }
            }
        case .other:
            break
        }
        guard cols % t.blockLayout.size != 0 else { return t }
        // Rows that are no whole number of 256-value blocks: llama.cpp's fallback types.
        switch t {
        case .q4_K: t = .q5_0
        case .q5_K: t = .q5_1
        case .q6_K: t = .q8_0
        case .q2_K, .q3_K: t = .q4_0
        default: break
        }
        return cols % t.blockLayout.size == 0 ? t : nil
    }
}
