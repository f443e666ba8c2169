// Which ledger category each tensor of a checkpoint belongs to, by the rows of its
// family's tensor table (Families/). How a role is read from a stored tensor:
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
    /// A layout's rules, from its tensor table (Families/): each row's name after its layer
    /// number or its layout's prefix, so checkpoints that leave the prefix off are known too.
    package static func rules(for family: ArchitectureFamily) -> [ClassificationRule] { ruleTables[family]! }

    /// Each layout's rules, worked out once.
    private static let ruleTables = Dictionary(uniqueKeysWithValues: ArchitectureFamily.allCases.map { ($0, makeRules($0)) })

    private static func makeRules(_ family: ArchitectureFamily) -> [ClassificationRule] {
        let prefix = family.namePrefix
        let rows = family.tensors.map { t -> ClassificationRule in
            var suffix = t.name
            if let n = suffix.firstRange(of: "{e}.") ?? suffix.firstRange(of: "{n}.") { suffix = String(suffix[n.upperBound...]) }
            else if !prefix.isEmpty, suffix.hasPrefix(prefix) { suffix.removeFirst(prefix.count) }
            return ClassificationRule(suffix: suffix, role: t.role)
        }
        return rows + family.buffers.map { ClassificationRule(suffix: $0, role: .buffer) }
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
        // The longest rule that matches: BERT's attention.output.dense.weight before output.dense.weight.
        let rule = rules(for: family).filter { matches(tensor.name, $0.suffix) }.max { $0.suffix.utf8.count < $1.suffix.utf8.count }
        if let rule {
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
