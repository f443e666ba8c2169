// The tensor tables: each tensor a layout's checkpoints hold, once, with its Hugging Face
// name, llama.cpp's name for it, its ledger role, its shape from the configuration and
// when a checkpoint has it. The rows follow transformers' modeling files and gguf-py's
// TENSOR_NAMES.

import TensorLedgerCore

public struct FamilyTensor: Sendable {
    /// When a checkpoint holds the tensor.
    public enum Condition: Sendable {
        case always
        /// Q, K and V biases (`attention_bias`, Qwen2).
        case attentionBias
        /// The head, unless tied to the embedding.
        case untied
        case qkNorm
        /// Norms before the sublayers (most families and Gemma), after them (OLMo 2 and
        /// Gemma), only before (where post_attention_layernorm is the MLP's), or both (Gemma).
        case preNorm, postNorm, onlyPreNorm, sandwichNorm
        /// Only some checkpoints (a masked-LM head): known, never in a configuration's list.
        case optional
        /// The biases of LayerNorms (StableLM).
        case layerNormBias
        /// Q, K and V as three matrices or one; a dense MLP's gate and up as two or one (Phi-3).
        case separateQKV, fusedQKV, separateGateUp, fusedGateUp
        /// The dense MLP, or a mixture of experts named this way.
        case denseMLP
        case experts(ExpertNaming)

        /// Whether a family's checkpoints can hold it at all.
        func fits(_ f: ModelFamily) -> Bool {
            switch self {
            case .qkNorm: return f.qkNorm != nil
            case .preNorm: return f.norms != .post
            case .postNorm: return f.norms != .pre
            case .onlyPreNorm: return f.norms == .pre
            case .sandwichNorm: return f.norms == .sandwich
            case .layerNormBias: return f.layerNorms
            case .separateQKV: return !f.fusedProjections
            case .fusedQKV: return f.fusedProjections
            case .separateGateUp: return f.experts == nil && !f.fusedProjections
            case .fusedGateUp: return f.experts == nil && f.fusedProjections
            case .denseMLP: return f.experts == nil
            case .experts(let naming): return f.experts == naming
            default: return true
            }
        }

        /// Whether a checkpoint of this configuration holds it.
        func holds(_ c: ModelConfig) -> Bool {
            switch self {
            case .always: return true
            case .attentionBias: return c.attentionBias
            case .untied: return !c.tiedEmbeddings
            case .optional: return false
            default: return fits(c.record)
            }
        }
    }

    /// Hugging Face's name; "{n}" stands for the layer, "{e}" for the expert.
    public let name: String
    /// llama.cpp's name, nil where this tool writes none.
    public let gguf: String?
    public let role: TensorRole
    public let when: Condition
    /// The shape as the checkpoint stores it (GPT-2's Conv1D matrices [in, out]).
    let shape: @Sendable (ModelConfig) -> [Int]

    init(_ name: String, _ gguf: String?, _ role: TensorRole, _ when: Condition = .always, _ shape: @escaping @Sendable (ModelConfig) -> [Int]) {
        (self.name, self.gguf, self.role, self.when, self.shape) = (name, gguf, role, when, shape)
    }

    public var perLayer: Bool { name.contains("{n}") }
    /// A mixture's expert's tensor: both namings put its number after "experts.".
    public static func isExpert(_ name: String) -> Bool { name.contains(".experts.") }
    public var perExpert: Bool { name.contains("{e}") }
    /// The expert number in a mixture's tensor name (`…experts.5.w1.weight` is 5).
    public static func expertIndex(of name: String) -> Int? {
        guard let r = name.firstRange(of: ".experts.") else { return nil }
        return Int(name[r.upperBound...].prefix { $0.isNumber })
    }
    public var conv1D: Bool {
        switch role {
        case .matrix(_, .conv1D), .fusedQKV(.conv1D): return true
        default: return false
        }
    }

    /// The name of layer `l`'s copy (expert `e`'s, for an expert's).
    public func name(layer l: Int, expert e: Int = 0) -> String { Self.name(name, layer: l, expert: e) }

    /// A name with its layer (and expert) filled in.
    public static func name(_ template: String, layer l: Int, expert e: Int = 0) -> String {
        template.replacing("{n}", with: String(l)).replacing("{e}", with: String(e))
    }
    public func ggufName(layer l: Int) -> String? { gguf?.replacing("{n}", with: String(l)) }

    /// llama.cpp's form of Llama 3's rope scaling: divisors of the inverse frequencies,
    /// stored under the same name in both namings.
    public static let ropeDivisors = "rope_freqs.weight"

    // MARK: The tables

    static let gpt2: [FamilyTensor] = {
        let h = "transformer.h.{n}.", b = "blk.{n}."
        return [
            .init("transformer.wte.weight", "token_embd.weight", .matrix(.embedding, .linear)) { [$0.vocabSize, $0.hiddenSize] },
            .init("transformer.wpe.weight", "position_embd.weight", .other) { [$0.contextLength, $0.hiddenSize] },
            .init(h + "ln_1.weight", b + "attn_norm.weight", .other) { [$0.hiddenSize] },
            .init(h + "ln_1.bias", b + "attn_norm.bias", .other) { [$0.hiddenSize] },
            .init(h + "attn.c_attn.weight", b + "attn_qkv.weight", .fusedQKV(.conv1D)) { [$0.hiddenSize, 3 * $0.hiddenSize] },
            .init(h + "attn.c_attn.bias", b + "attn_qkv.bias", .other) { [3 * $0.hiddenSize] },
            .init(h + "attn.c_proj.weight", b + "attn_output.weight", .matrix(.output, .conv1D)) { [$0.hiddenSize, $0.hiddenSize] },
            .init(h + "attn.c_proj.bias", b + "attn_output.bias", .other) { [$0.hiddenSize] },
            .init(h + "ln_2.weight", b + "ffn_norm.weight", .other) { [$0.hiddenSize] },
            .init(h + "ln_2.bias", b + "ffn_norm.bias", .other) { [$0.hiddenSize] },
            .init(h + "mlp.c_fc.weight", b + "ffn_up.weight", .matrix(.upProjection, .conv1D)) { [$0.hiddenSize, $0.intermediateSize] },
            .init(h + "mlp.c_fc.bias", b + "ffn_up.bias", .other) { [$0.intermediateSize] },
            .init(h + "mlp.c_proj.weight", b + "ffn_down.weight", .matrix(.downProjection, .conv1D)) { [$0.intermediateSize, $0.hiddenSize] },
            .init(h + "mlp.c_proj.bias", b + "ffn_down.bias", .other) { [$0.hiddenSize] },
            .init("transformer.ln_f.weight", "output_norm.weight", .other) { [$0.hiddenSize] },
            .init("transformer.ln_f.bias", "output_norm.bias", .other) { [$0.hiddenSize] },
            .init("lm_head.weight", "output.weight", .matrix(.unembedding, .linear), .untied) { [$0.vocabSize, $0.hiddenSize] },
        ]
    }()

    static let llama: [FamilyTensor] = {
        typealias N = LlamaNames
        let b = "blk.{n}."
        return [
            .init(N.embedding, "token_embd.weight", .matrix(.embedding, .linear)) { [$0.vocabSize, $0.hiddenSize] },
            .init(N.inputNorm, b + "attn_norm.weight", .other, .preNorm) { [$0.hiddenSize] },
            .init(N.bias(N.inputNorm), b + "attn_norm.bias", .other, .layerNormBias) { [$0.hiddenSize] },
            .init(N.query, b + "attn_q.weight", .matrix(.query, .linear), .separateQKV) { [$0.queryWidth, $0.hiddenSize] },
            .init(N.key, b + "attn_k.weight", .matrix(.key, .linear), .separateQKV) { [$0.kvWidth, $0.hiddenSize] },
            .init(N.value, b + "attn_v.weight", .matrix(.value, .linear), .separateQKV) { [$0.kvWidth, $0.hiddenSize] },
            .init(N.fusedQKV, b + "attn_qkv.weight", .fusedQKV(.linear), .fusedQKV) { [$0.queryWidth + 2 * $0.kvWidth, $0.hiddenSize] },
            .init(N.bias(N.query), b + "attn_q.bias", .other, .attentionBias) { [$0.queryWidth] },
            .init(N.bias(N.key), b + "attn_k.bias", .other, .attentionBias) { [$0.kvWidth] },
            .init(N.bias(N.value), b + "attn_v.bias", .other, .attentionBias) { [$0.kvWidth] },
            .init(N.queryNorm, b + "attn_q_norm.weight", .other, .qkNorm) { [$0.record.qkNorm == .whole ? $0.queryWidth : $0.headDim] },
            .init(N.keyNorm, b + "attn_k_norm.weight", .other, .qkNorm) { [$0.record.qkNorm == .whole ? $0.kvWidth : $0.headDim] },
            .init(N.output, b + "attn_output.weight", .matrix(.output, .linear)) { [$0.hiddenSize, $0.queryWidth] },
            .init(N.postAttentionNorm, b + "ffn_norm.weight", .other, .onlyPreNorm) { [$0.hiddenSize] },
            .init(N.bias(N.postAttentionNorm), b + "ffn_norm.bias", .other, .layerNormBias) { [$0.hiddenSize] },
            .init(N.postAttentionNorm, b + "post_attention_norm.weight", .other, .postNorm) { [$0.hiddenSize] },
            .init(N.preFeedForwardNorm, b + "ffn_norm.weight", .other, .sandwichNorm) { [$0.hiddenSize] },
            .init(N.gate, b + "ffn_gate.weight", .matrix(.upProjection, .linear), .separateGateUp) { [$0.intermediateSize, $0.hiddenSize] },
            .init(N.up, b + "ffn_up.weight", .matrix(.upProjection, .linear), .separateGateUp) { [$0.intermediateSize, $0.hiddenSize] },
            .init(N.fusedGateUp, b + "ffn_up.weight", .matrix(.upProjection, .linear), .fusedGateUp) { [2 * $0.intermediateSize, $0.hiddenSize] },
            .init(N.down, b + "ffn_down.weight", .matrix(.downProjection, .linear), .denseMLP) { [$0.hiddenSize, $0.intermediateSize] },
            // A mixture of experts: the router, then each expert's SwiGLU MLP. llama.cpp
            // stacks the experts of a layer into one tensor per matrix ([in, out, experts] in
            // ggml's order); each expert's slice is a matrix of its own here.
            .init(N.router(.mixtral), b + "ffn_gate_inp.weight", .other, .experts(.mixtral)) { [$0.experts, $0.hiddenSize] },
            .init(N.expertGate(.mixtral), b + "ffn_gate_exps.weight", .matrix(.upProjection, .linear), .experts(.mixtral)) { [$0.expertIntermediateSize, $0.hiddenSize] },
            .init(N.expertUp(.mixtral), b + "ffn_up_exps.weight", .matrix(.upProjection, .linear), .experts(.mixtral)) { [$0.expertIntermediateSize, $0.hiddenSize] },
            .init(N.expertDown(.mixtral), b + "ffn_down_exps.weight", .matrix(.downProjection, .linear), .experts(.mixtral)) { [$0.hiddenSize, $0.expertIntermediateSize] },
            .init(N.router(.qwen), b + "ffn_gate_inp.weight", .other, .experts(.qwen)) { [$0.experts, $0.hiddenSize] },
            .init(N.expertGate(.qwen), b + "ffn_gate_exps.weight", .matrix(.upProjection, .linear), .experts(.qwen)) { [$0.expertIntermediateSize, $0.hiddenSize] },
            .init(N.expertUp(.qwen), b + "ffn_up_exps.weight", .matrix(.upProjection, .linear), .experts(.qwen)) { [$0.expertIntermediateSize, $0.hiddenSize] },
            .init(N.expertDown(.qwen), b + "ffn_down_exps.weight", .matrix(.downProjection, .linear), .experts(.qwen)) { [$0.hiddenSize, $0.expertIntermediateSize] },
            .init(N.postFeedForwardNorm, b + "post_ffw_norm.weight", .other, .postNorm) { [$0.hiddenSize] },
            .init(N.finalNorm, "output_norm.weight", .other) { [$0.hiddenSize] },
            .init(N.bias(N.finalNorm), "output_norm.bias", .other, .layerNormBias) { [$0.hiddenSize] },
            .init(N.head, "output.weight", .matrix(.unembedding, .linear), .untied) { [$0.vocabSize, $0.hiddenSize] },
        ]
    }()

    static let bert: [FamilyTensor] = {
        let l = "encoder.layer.{n}."
        var rows: [FamilyTensor] = [
            .init("embeddings.word_embeddings.weight", nil, .matrix(.embedding, .linear)) { [$0.vocabSize, $0.hiddenSize] },
            .init("embeddings.position_embeddings.weight", nil, .other) { [$0.contextLength, $0.hiddenSize] },
            .init("embeddings.token_type_embeddings.weight", nil, .other) { [$0.typeVocabSize, $0.hiddenSize] },
            .init("embeddings.LayerNorm.weight", nil, .other) { [$0.hiddenSize] },
            .init("embeddings.LayerNorm.bias", nil, .other) { [$0.hiddenSize] },
        ]
        for (m, category) in [("query", LedgerCategory.query), ("key", .key), ("value", .value)] {
            rows.append(.init(l + "attention.self.\(m).weight", nil, .matrix(category, .linear)) { [$0.hiddenSize, $0.hiddenSize] })
            rows.append(.init(l + "attention.self.\(m).bias", nil, .other) { [$0.hiddenSize] })
        }
        rows += [
            .init(l + "attention.output.dense.weight", nil, .matrix(.output, .linear)) { [$0.hiddenSize, $0.hiddenSize] },
            .init(l + "attention.output.dense.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "attention.output.LayerNorm.weight", nil, .other) { [$0.hiddenSize] },
            .init(l + "attention.output.LayerNorm.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "intermediate.dense.weight", nil, .matrix(.upProjection, .linear)) { [$0.intermediateSize, $0.hiddenSize] },
            .init(l + "intermediate.dense.bias", nil, .other) { [$0.intermediateSize] },
            .init(l + "output.dense.weight", nil, .matrix(.downProjection, .linear)) { [$0.hiddenSize, $0.intermediateSize] },
            .init(l + "output.dense.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "output.LayerNorm.weight", nil, .other) { [$0.hiddenSize] },
            .init(l + "output.LayerNorm.bias", nil, .other) { [$0.hiddenSize] },
            .init("pooler.dense.weight", nil, .other) { [$0.hiddenSize, $0.hiddenSize] },
            .init("pooler.dense.bias", nil, .other) { [$0.hiddenSize] },
            // A masked-LM checkpoint's head.
            .init("cls.predictions.transform.dense.weight", nil, .other, .optional) { [$0.hiddenSize, $0.hiddenSize] },
            .init("cls.predictions.decoder.weight", nil, .matrix(.unembedding, .linear), .optional) { [$0.vocabSize, $0.hiddenSize] },
        ]
        return rows
    }()

    static let gptNeoX: [FamilyTensor] = {
        let l = "gpt_neox.layers.{n}."
        return [
            .init("gpt_neox.embed_in.weight", nil, .matrix(.embedding, .linear)) { [$0.vocabSize, $0.hiddenSize] },
            .init(l + "input_layernorm.weight", nil, .other) { [$0.hiddenSize] },
            .init(l + "input_layernorm.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "post_attention_layernorm.weight", nil, .other) { [$0.hiddenSize] },
            .init(l + "post_attention_layernorm.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "attention.query_key_value.weight", nil, .fusedQKV(.linear)) { [3 * $0.hiddenSize, $0.hiddenSize] },
            .init(l + "attention.query_key_value.bias", nil, .other) { [3 * $0.hiddenSize] },
            .init(l + "attention.dense.weight", nil, .matrix(.output, .linear)) { [$0.hiddenSize, $0.hiddenSize] },
            .init(l + "attention.dense.bias", nil, .other) { [$0.hiddenSize] },
            .init(l + "mlp.dense_h_to_4h.weight", nil, .matrix(.upProjection, .linear)) { [$0.intermediateSize, $0.hiddenSize] },
            .init(l + "mlp.dense_h_to_4h.bias", nil, .other) { [$0.intermediateSize] },
            .init(l + "mlp.dense_4h_to_h.weight", nil, .matrix(.downProjection, .linear)) { [$0.hiddenSize, $0.intermediateSize] },
            .init(l + "mlp.dense_4h_to_h.bias", nil, .other) { [$0.hiddenSize] },
            .init("gpt_neox.final_layer_norm.weight", nil, .other) { [$0.hiddenSize] },
            .init("gpt_neox.final_layer_norm.bias", nil, .other) { [$0.hiddenSize] },
            .init("embed_out.weight", nil, .matrix(.unembedding, .linear), .untied) { [$0.vocabSize, $0.hiddenSize] },
        ]
    }()
}

/// The LLaMA layout's Hugging Face names, each declared once: the table above and the
/// runner's loader both spell them from here. "{n}" is the layer, "{e}" the expert
/// (`FamilyTensor.name(_:layer:expert:)` fills them in).
public enum LlamaNames {
    static let layer = "model.layers.{n}."
    public static let embedding = "model.embed_tokens.weight"
    public static let inputNorm = layer + "input_layernorm.weight"
    public static let query = layer + "self_attn.q_proj.weight"
    public static let key = layer + "self_attn.k_proj.weight"
    public static let value = layer + "self_attn.v_proj.weight"
    /// Phi-3's Q, K and V rows in one matrix.
    public static let fusedQKV = layer + "self_attn.qkv_proj.weight"
    public static let queryNorm = layer + "self_attn.q_norm.weight"
    public static let keyNorm = layer + "self_attn.k_norm.weight"
    public static let output = layer + "self_attn.o_proj.weight"
    /// The MLP's input norm in most families; the attention's output norm in OLMo 2 and Gemma 2/3.
    public static let postAttentionNorm = layer + "post_attention_layernorm.weight"
    public static let preFeedForwardNorm = layer + "pre_feedforward_layernorm.weight"
    public static let postFeedForwardNorm = layer + "post_feedforward_layernorm.weight"
    public static let gate = layer + "mlp.gate_proj.weight"
    public static let up = layer + "mlp.up_proj.weight"
    /// Phi-3's gate rows, then up rows, in one matrix.
    public static let fusedGateUp = layer + "mlp.gate_up_proj.weight"
    public static let down = layer + "mlp.down_proj.weight"
    public static let finalNorm = "model.norm.weight"
    public static let head = "lm_head.weight"

    /// A weight's bias (a projection's, a LayerNorm's).
    public static func bias(_ weight: String) -> String { String(weight.dropLast("weight".count)) + "bias" }

    public static func router(_ naming: ExpertNaming) -> String {
        naming == .mixtral ? layer + "block_sparse_moe.gate.weight" : layer + "mlp.gate.weight"
    }
    public static func expertGate(_ naming: ExpertNaming) -> String { expert(naming, "w1", "gate_proj") }
    public static func expertUp(_ naming: ExpertNaming) -> String { expert(naming, "w3", "up_proj") }
    public static func expertDown(_ naming: ExpertNaming) -> String { expert(naming, "w2", "down_proj") }
    static func expert(_ naming: ExpertNaming, _ mixtral: String, _ qwen: String) -> String {
        naming == .mixtral ? layer + "block_sparse_moe.experts.{e}.\(mixtral).weight" : layer + "mlp.experts.{e}.\(qwen).weight"
    }
}

extension ModelConfig {
    /// Of `total` (parameters or bytes), `experts` being a mixture's experts: what one token
    /// uses, its k of E experts (all of it for a dense model).
    public func perToken(total: Int, experts part: Int) -> Int {
        experts > 0 ? total - part + part / experts * expertsPerToken : total
    }

    /// Widths of all the query heads, and of all the key (or value) heads.
    public var queryWidth: Int { heads * headDim }
    public var kvWidth: Int { kvHeads * headDim }
    /// The dimensions of each head that rotary positions turn.
    public var rotaryDim: Int { Int(Double(headDim) * partialRotaryFactor) }

    /// The (name, shape) list a Hugging Face checkpoint of this configuration holds, laid
    /// end to end in `weightDType`: the family's table, each layer's rows in turn.
    public func syntheticTensors() -> [TensorInfo] {
        let rows = record.tensors.filter { $0.when.holds(self) }
        // Rows before the first per-layer row come before the layers, the rest after (the
        // embedding first, the final norm and head last, as checkpoints order them).
        let firstLayerRow = rows.firstIndex(where: \.perLayer) ?? rows.count
        var specs = rows[..<firstLayerRow].map { ($0.name, $0.shape(self)) }
        for l in 0..<layers {
            for t in rows where t.perLayer {
                for e in 0..<(t.perExpert ? experts : 1) { specs.append((t.name(layer: l, expert: e), t.shape(self))) }
            }
        }
        for t in rows[firstLayerRow...] where !t.perLayer { specs.append((t.name, t.shape(self))) }
        var offset = 0
        return specs.map { name, shape in
            let bytes = shape.reduce(weightDType.bitSize / 8, *)
            defer { offset += bytes }
            return TensorInfo(name: name, dtype: weightDType, shape: shape, dataOffsets: offset..<(offset + bytes))
        }
    }
}
