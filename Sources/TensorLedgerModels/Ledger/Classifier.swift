// Which ledger category each tensor of a checkpoint belongs to, table-driven per
// architecture family. Checkpoint quirks live here and nowhere else:
// - GPT-2 stores Conv1D weights as [in, out] (the transpose of nn.Linear) and fuses
//   Query | Key | Value along the output axis of `attn.c_attn`; GPT-NeoX fuses them in
//   `query_key_value` as a Linear [3·d, d]. Both are split by shape.
// - GPT-2's `attn.bias` / `attn.masked_bias` are causal-mask buffers, BERT's
//   `position_ids`, LLaMA's `rotary_emb.inv_freq` and a GGUF's `rope_freqs` are buffers too: stored, but not
//   parameters (they are why some pages say GPT-2 small has 137M "parameters").

/// How a weight matrix is laid out on disk.
import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

public enum MatrixLayout: String, Sendable {
    /// nn.Linear: [out, in].
    case linear
    /// GPT-2's Conv1D: [in, out].
    case conv1D = "conv1d"
}

/// What the classifier decided for one tensor.
public enum TensorRole: Sendable, Equatable {
    /// A whole matrix of one category.
    case matrix(LedgerCategory, MatrixLayout)
    /// Query, Key and Value fused along the output axis, in that order.
    case fusedQKV(MatrixLayout)
    /// Counted under Other, and known (a norm, a bias, a position embedding...).
    case other
    /// A stored buffer that is not a parameter.
    case buffer
    /// Counted under Other, and no rule knew it.
    case unmatched
}

package struct ClassificationRule {
    /// Matches a whole dotted name or its tail after a dot.
    package var suffix: String
    package var role: TensorRole
}

public enum TensorClassifier {
    package static func rules(for family: ArchitectureFamily) -> [ClassificationRule] {
        func r(_ s: String, _ role: TensorRole) -> ClassificationRule { ClassificationRule(suffix: s, role: role) }
        switch family {
        case .gpt2:
            return [
                r("wte.weight", .matrix(.embedding, .linear)),
                r("wpe.weight", .other),
                r("attn.c_attn.weight", .fusedQKV(.conv1D)),
                r("attn.c_proj.weight", .matrix(.output, .conv1D)),
                r("mlp.c_fc.weight", .matrix(.upProjection, .conv1D)),
                r("mlp.c_proj.weight", .matrix(.downProjection, .conv1D)),
                r("lm_head.weight", .matrix(.unembedding, .linear)),
                r("attn.bias", .buffer),
                r("attn.masked_bias", .buffer),
            ]
        case .llama:
            return [
                r("embed_tokens.weight", .matrix(.embedding, .linear)),
                r("self_attn.q_proj.weight", .matrix(.query, .linear)),
                r("self_attn.k_proj.weight", .matrix(.key, .linear)),
                r("self_attn.v_proj.weight", .matrix(.value, .linear)),
                r("self_attn.o_proj.weight", .matrix(.output, .linear)),
                r("mlp.gate_proj.weight", .matrix(.upProjection, .linear)),
                r("mlp.up_proj.weight", .matrix(.upProjection, .linear)),
                r("mlp.down_proj.weight", .matrix(.downProjection, .linear)),
                r("lm_head.weight", .matrix(.unembedding, .linear)),
                r("rotary_emb.inv_freq", .buffer),
                // llama.cpp's form of Llama 3's rope scaling (a GGUF file's rope_freqs).
                r(GGUFArchitecture.ropeDivisors, .buffer),
            ]
        case .bert:
            return [
                r("embeddings.word_embeddings.weight", .matrix(.embedding, .linear)),
                r("embeddings.position_embeddings.weight", .other),
                r("embeddings.token_type_embeddings.weight", .other),
                r("embeddings.position_ids", .buffer),
                r("embeddings.token_type_ids", .buffer),
                r("attention.self.query.weight", .matrix(.query, .linear)),
                r("attention.self.key.weight", .matrix(.key, .linear)),
                r("attention.self.value.weight", .matrix(.value, .linear)),
                r("attention.output.dense.weight", .matrix(.output, .linear)),
                r("intermediate.dense.weight", .matrix(.upProjection, .linear)),
                r("output.dense.weight", .matrix(.downProjection, .linear)),
                r("cls.predictions.decoder.weight", .matrix(.unembedding, .linear)),
                r("pooler.dense.weight", .other),
                r("cls.predictions.transform.dense.weight", .other),
            ]
        case .gptNeoX:
            return [
                r("embed_in.weight", .matrix(.embedding, .linear)),
                r("attention.query_key_value.weight", .fusedQKV(.linear)),
                r("attention.dense.weight", .matrix(.output, .linear)),
                r("mlp.dense_h_to_4h.weight", .matrix(.upProjection, .linear)),
                r("mlp.dense_4h_to_h.weight", .matrix(.downProjection, .linear)),
                r("embed_out.weight", .matrix(.unembedding, .linear)),
                r("attention.bias", .buffer),
                r("attention.masked_bias", .buffer),
                r("rotary_emb.inv_freq", .buffer),
                // llama.cpp's form of Llama 3's rope scaling (a GGUF file's rope_freqs).
                r(GGUFArchitecture.ropeDivisors, .buffer),
            ]
        }
    }

    /// Guesses the family from tensor names when there is no config.json.
    public static func detectFamily(_ names: [String]) -> ArchitectureFamily? {
        for name in names {
            if matches(name, "wte.weight") || matches(name, "attn.c_attn.weight") { return .gpt2 }
            if matches(name, "embed_tokens.weight") || matches(name, "self_attn.q_proj.weight") { return .llama }
            if matches(name, "word_embeddings.weight") || matches(name, "attention.self.query.weight") { return .bert }
            if matches(name, "embed_in.weight") || matches(name, "attention.query_key_value.weight") { return .gptNeoX }
        }
        return nil
    }

    package static func matches(_ name: String, _ suffix: String) -> Bool {
        guard name.hasSuffix(suffix) else { return false }
        if name.utf8.count == suffix.utf8.count { return true }
        return name.utf8.dropLast(suffix.utf8.count).last == UInt8(ascii: ".")
    }

    /// The role of one tensor. Matrix rules apply only to 2-D tensors; what no rule
    /// names is Other, recognised when it looks like a norm or a bias.
    public static func role(of tensor: TensorInfo, family: ArchitectureFamily) -> TensorRole {
        for rule in rules(for: family) where matches(tensor.name, rule.suffix) {
            switch rule.role {
            case .matrix, .fusedQKV: return tensor.rank == 2 ? rule.role : .unmatched
            default: return rule.role
            }
        }
        let lower = tensor.name.lowercased()
        if lower.hasSuffix(".bias") || lower.contains("norm") || lower.contains("ln_") || lower.contains("layernorm") {
            return .other
        }
        return .unmatched
    }

    /// The layer number of a tensor name (`transformer.h.11.attn...` is 11), if any.
    public static func layerIndex(of name: String) -> Int? {
        for part in name.split(separator: ".") {
            if let n = Int(part), n >= 0 { return n }
        }
        return nil
    }
}
