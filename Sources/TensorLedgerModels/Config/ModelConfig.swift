// A transformer's shape as Hugging Face's config.json states it, checked once whatever
// it was read from, its stored form in a .tlm header, and the presets (GPT-2, the GPT-3
// paper's sizes, published LLaMA-family configurations). The tensors such a model holds
// are its family's table (Families/).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

/// The checkpoint naming conventions (and forward passes) families share.
public enum ArchitectureFamily: String, Sendable, CaseIterable {
    case gpt2 = "gpt2"
    case llama = "llama"
    case bert = "bert"
    case gptNeoX = "gpt_neox"

    public var displayName: String {
        switch self {
        case .gpt2: return "GPT-2"
        case .llama: return "LLaMA-style"
        case .bert: return "BERT-style"
        case .gptNeoX: return "GPT-NeoX"
        }
    }
}

public enum ConfigError: TensorLedgerError, Equatable {
    case invalid(file: String, reason: String)
    case unknownPreset(name: String, known: [String])

    public var category: ErrorCategory {
        if case .unknownPreset = self { return .usage }
        return .badInput
    }
    public var description: String {
        switch self {
        case .invalid(let f, let r): return "\(f): \(r)"
        case .unknownPreset(let n, let known): return "no preset named \"\(n)\" (known: \(known.joined(separator: ", ")))"
        }
    }
}

/// How a checkpoint rescales RoPE's inverse frequencies for longer contexts.
public struct RopeScaling: Sendable, Equatable {
    /// `rope_type` (or the older `type`): "llama3" and "linear" run; others are named when refused.
    public var type: String
    public var factor: Double = 1
    public var lowFrequencyFactor: Double = 1
    public var highFrequencyFactor: Double = 4
    public var originalContextLength: Int = 8192

    public init(type: String) { self.type = type }

    /// From config.json's `rope_scaling` / `rope_parameters` object; nil when it asks for none.
    package init?(_ o: JSONObject, file: String) throws(ConfigError) {
        guard let type = o["rope_type"]?.string ?? o["type"]?.string, type != "default" else { return nil }
        self.type = type
        func number(_ key: String) throws(ConfigError) -> Double? {
            guard let v = o[key], v != .null else { return nil }
            guard let x = v.number, x.isFinite, x > 0 else { throw .invalid(file: file, reason: "rope scaling \"\(key)\" must be a positive number") }
            return x
        }
        factor = try number("factor") ?? 1
        lowFrequencyFactor = try number("low_freq_factor") ?? 1
        highFrequencyFactor = try number("high_freq_factor") ?? 4
        if let n = try number("original_max_position_embeddings") {
            guard n <= Double(1 << 24) else { throw .invalid(file: file, reason: "original_max_position_embeddings \(n) is above TensorLedger's limit") }
            originalContextLength = Int(n)
        }
        if type == "llama3" && highFrequencyFactor <= lowFrequencyFactor {
            throw .invalid(file: file, reason: "llama3 rope scaling needs high_freq_factor above low_freq_factor")
        }
    }

    package var json: JSONValue {
        .object(JSONObject([
            "rope_type": .string(type), "factor": .double(factor), "low_freq_factor": .double(lowFrequencyFactor),
            "high_freq_factor": .double(highFrequencyFactor), "original_max_position_embeddings": .int(originalContextLength),
        ]))
    }
}

public struct ModelConfig: Sendable, Equatable {
    public var family: ArchitectureFamily
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var contextLength: Int
    public var tiedEmbeddings: Bool
    public var layerNormEpsilon: Double
    /// BERT's token-type (segment) vocabulary.
    public var typeVocabSize: Int = 2
    /// Biases on the Query, Key and Value projections (Qwen2; LLaMA's `attention_bias`).
    public var attentionBias: Bool = false
    /// The MLP's activation as config.json names it (`hidden_act`, GPT-2's `activation_function`).
    public var activation: String
    /// RoPE's base (`rope_theta`); LLaMA family only.
    public var ropeTheta: Double = 10_000
    /// The share of each head's dimensions that rotary positions turn (Phi-4-mini's 0.75,
    /// StableLM's 0.25); the rest pass through.
    public var partialRotaryFactor: Double = 1
    /// RoPE's frequency rescaling (`rope_scaling`, or transformers 5's `rope_parameters`), if any.
    public var ropeScaling: RopeScaling?
    /// Mistral's sliding attention window, when the model uses one (for every layer, unless
    /// `slidingLayers` names some).
    public var slidingWindow: Int?
    /// Which layers attend within the sliding window (Gemma 3: five of every six); empty
    /// when the window, if any, is the whole model's.
    public var slidingLayers: [Bool] = []
    /// The rope base of the sliding layers, when it differs (Gemma 3's `rope_local_base_freq`).
    public var localRopeTheta: Double?
    /// Attention scores are scaled by this^−½ instead of head_dim^−½ (Gemma's `query_pre_attn_scalar`).
    public var queryPreAttentionScalar: Double?
    /// Gemma 2 caps attention scores and the final logits softly: cap · tanh(x / cap).
    public var attentionSoftCap: Double?
    public var finalSoftCap: Double?
    /// config.json's `bos_token_id` and `eos_token_id` (a list for some models).
    public var bosTokenID: Int?
    /// config.json's `pad_token_id`, which GGUF carries as the padding token.
    public var padTokenID: Int?
    /// config.json's `_name_or_path`: the hub id or folder the model was saved from.
    public var nameOrPath: String?
    public var eosTokenIDs: [Int] = []
    /// The element type the weights were saved in (config.json's torch_dtype, or dtype
    /// since transformers 5): what a ledger or plan from the configuration alone counts bytes in.
    public var weightDType: DType = .float32
    /// Settings the configuration makes that the runner cannot honour ("scale_attn_weights
    /// false"): counting works, running and converting are refused.
    public var unsupportedByRunner: [String] = []
    /// A mixture of experts: experts per layer (0 for a dense MLP), how many each token
    /// uses, each expert's MLP width, and whether the chosen experts' weights are scaled
    /// to sum to one (Mixtral always; Qwen3-MoE and OLMoE as `norm_topk_prob` says).
    public var experts: Int = 0
    /// The most experts a layer may have here.
    public static let maxExperts = 4096
    public var expertsPerToken: Int = 0
    public var expertIntermediateSize: Int = 0
    public var normalizesTopK = false

    public init(family: ArchitectureFamily, modelType: String? = nil, vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int,
                kvHeads: Int? = nil, headDim: Int? = nil, intermediateSize: Int? = nil, contextLength: Int,
                tiedEmbeddings: Bool, layerNormEpsilon: Double = 1e-5) {
        self.family = family
        self.modelType = modelType ?? family.rawValue
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim ?? (heads > 0 ? hiddenSize / heads : hiddenSize)
        self.intermediateSize = intermediateSize ?? 4 * hiddenSize
        self.contextLength = contextLength
        self.tiedEmbeddings = tiedEmbeddings
        self.layerNormEpsilon = layerNormEpsilon
        activation = Self.defaultActivation(family)
    }

    /// What a family uses when its configuration names no activation.
    static func defaultActivation(_ family: ArchitectureFamily) -> String {
        family == .gpt2 ? "gelu_new" : (family == .llama ? "silu" : "gelu")
    }

    // MARK: Reading config.json

    public static func load(_ path: String) throws -> ModelConfig {
        let bytes = try readWholeFile(path, limit: 16 << 20)
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch { throw ConfigError.invalid(file: path, reason: "not valid JSON: \(error)") }
        return try parse(root, file: path)
    }

    public static func parse(_ root: JSONValue, file: String) throws(ConfigError) -> ModelConfig {
        guard let o = root.object else { throw .invalid(file: file, reason: "config must be a JSON object") }
        guard let modelType = o["model_type"]?.string else { throw .invalid(file: file, reason: "missing \"model_type\"") }
        guard let record = ModelFamily.named(modelType) else {
            throw .invalid(file: file, reason: "model_type \"\(modelType)\" is not a family TensorLedger knows (\(ModelFamily.knownTypes))")
        }
        let family = record.layout
        func int(_ keys: String...) throws(ConfigError) -> Int? {
            for k in keys {
                guard let v = o[k], v != .null else { continue }
                guard case .int(let i) = v, i >= 0, i <= 1 << 40 else {
                    throw .invalid(file: file, reason: "\"\(k)\" must be a non-negative integer, found \(v.kindDescription)")
                }
                return i
            }
            return nil
        }
        func required(_ keys: String...) throws(ConfigError) -> Int {
            for k in keys { if let v = try int(k) { return v } }
            throw .invalid(file: file, reason: "missing \"\(keys[0])\"")
        }
        // A token id given as something else than an integer (or null) is an error, not absent.
        func tokenID(_ v: JSONValue?, _ key: String) throws(ConfigError) -> Int? {
            guard let v, v != .null else { return nil }
            guard case .int(let i) = v else {
                if case .double(let d) = v, let i = Int(exactly: d) { return i }
                throw .invalid(file: file, reason: "\"\(key)\" must be an integer, found \(v.kindDescription)")
            }
            return i
        }
        let hidden = try required("hidden_size", "n_embd", "d_model")
        let heads = try required("num_attention_heads", "n_head")
        // A value given in the wrong type is an error, not the default.
        for key in ["layer_norm_epsilon", "layer_norm_eps", "rms_norm_eps", "rope_theta"] {
            if let v = o[key], v != .null, v.number == nil { throw .invalid(file: file, reason: "\"\(key)\" must be a number, found \(v.kindDescription)") }
        }
        let defaultTie: Bool = family == .gpt2 || family == .bert
        let tie = o["tie_word_embeddings"]?.bool ?? defaultTie
        var config = ModelConfig(
            family: family, modelType: modelType,
            vocabSize: try required("vocab_size"),
            hiddenSize: hidden,
            layers: try required("num_hidden_layers", "n_layer"),
            heads: heads,
            kvHeads: try int("num_key_value_heads"),
            headDim: try int("head_dim"),
            intermediateSize: try int("intermediate_size", "n_inner"),
            contextLength: try int("max_position_embeddings", "n_positions", "n_ctx") ?? 0,
            tiedEmbeddings: tie,
            layerNormEpsilon: o["layer_norm_epsilon"]?.number ?? o["layer_norm_eps"]?.number ?? o["rms_norm_eps"]?.number ?? 1e-5)
        if let t = try int("type_vocab_size") { config.typeVocabSize = t }
        if record.experts != nil {
            config.experts = try required("num_local_experts", "num_experts")
            config.expertsPerToken = try required("num_experts_per_tok")
            config.expertIntermediateSize = try int("moe_intermediate_size") ?? config.intermediateSize
            config.normalizesTopK = record.experts == .mixtral || o["norm_topk_prob"]?.bool == true
            // Dense layers among the sparse ones (Qwen3-MoE's options), or clipped Q/K/V (OLMoE's).
            if let dense = o["mlp_only_layers"]?.array, !dense.isEmpty { config.unsupportedByRunner.append("mlp_only_layers \(dense.count) dense layers") }
            if let step = try int("decoder_sparse_step"), step != 1 { config.unsupportedByRunner.append("decoder_sparse_step \(step)") }
        }
        if let clip = o["clip_qkv"], clip != .null { config.unsupportedByRunner.append("clip_qkv \(clip.number.map { "\($0)" } ?? "set")") }
        config.attentionBias = o["attention_bias"]?.bool ?? o["use_qkv_bias"]?.bool ?? record.attentionBiasByDefault
        // StableLM's options the runner does not do yet.
        if record.layerNorms {
            if o["qk_layernorm"]?.bool == true { config.unsupportedByRunner.append("qk_layernorm true") }
            if o["use_parallel_residual"]?.bool == true { config.unsupportedByRunner.append("use_parallel_residual true") }
        }
        // GPT-2 options that change the attention's arithmetic, which the runner does not do.
        if family == .gpt2 {
            if o["scale_attn_weights"]?.bool == false { config.unsupportedByRunner.append("scale_attn_weights false") }
            if o["scale_attn_by_inverse_layer_idx"]?.bool == true { config.unsupportedByRunner.append("scale_attn_by_inverse_layer_idx true") }
        }
        if let act = o["hidden_act"]?.string ?? o["hidden_activation"]?.string ?? o["activation_function"]?.string { config.activation = act }
        // transformers 4 wrote top-level rope_theta and rope_scaling; 5 writes rope_parameters,
        // one per kind of layer where they differ (Gemma 3's full and sliding layers).
        var rope = o["rope_parameters"]?.object
        if let perKind = rope, let full = perKind["full_attention"]?.object {
            rope = full
            if let theta = perKind["sliding_attention"]?.object?["rope_theta"]?.number { config.localRopeTheta = theta }
        }
        if let theta = o["rope_theta"]?.number ?? rope?["rope_theta"]?.number { config.ropeTheta = theta }
        if let theta = o["rope_local_base_freq"]?.number { config.localRopeTheta = theta }
        if let f = o["partial_rotary_factor"]?.number ?? rope?["partial_rotary_factor"]?.number { config.partialRotaryFactor = f }
        if let scaling = o["rope_scaling"]?.object ?? rope {
            config.ropeScaling = try RopeScaling(scaling, file: file)
        }
        if let types = o["layer_types"]?.array, types.contains(.string("sliding_attention")) {
            config.slidingLayers = types.map { $0 == .string("sliding_attention") }
        }
        if let q = o["query_pre_attn_scalar"]?.number { config.queryPreAttentionScalar = q }
        config.attentionSoftCap = o["attn_logit_softcapping"]?.number
        config.finalSoftCap = o["final_logit_softcapping"]?.number
        if o["use_bidirectional_attention"]?.bool == true { config.unsupportedByRunner.append("use_bidirectional_attention true") }
        switch o["torch_dtype"]?.string ?? o["dtype"]?.string {
        case "float16"?: config.weightDType = .float16
        case "bfloat16"?: config.weightDType = .bfloat16
        default: break  // float32, "auto" or absent
        }
        config.bosTokenID = try tokenID(o["bos_token_id"], "bos_token_id")
        config.padTokenID = try tokenID(o["pad_token_id"], "pad_token_id")
        config.nameOrPath = o["_name_or_path"]?.string
        for v in o["eos_token_id"]?.array ?? o["eos_token_id"].map({ [$0] }) ?? [] {
            if let id = try tokenID(v, "eos_token_id") { config.eosTokenIDs.append(id) }
        }
        let slidingUsed = o["use_sliding_window"]?.bool ?? record.slidingWindowByDefault
        if slidingUsed, let w = try int("sliding_window"), w > 0 { config.slidingWindow = w }
        try config.validate(file: file)
        return config
    }

    /// The layers the tensors hold must be the layers the configuration says: fewer
    /// tensors fail when a layer is loaded, more would silently be left out.
    public func checkLayers(tensorNames: [String], source: String) throws(ConfigError) {
        // The last layer's index, not a count: a name may hold any number, Int.max included.
        if let last = tensorNames.compactMap({ TensorClassifier.layerIndex(of: $0) }).max(), last >= layers {
            let held = last < 1 << 24 ? "\(last + 1) layers" : "a tensor of layer \(last)"
            throw .invalid(file: source, reason: "the weights hold \(held) but the configuration says \(layers); the rest would be ignored")
        }
    }

    /// The head a checkpoint holds although the configuration ties it to the embedding:
    /// transformers ignores it (tie_weights makes the head the embedding), and so does
    /// every command here, saying so.
    public func ignoredTiedHead(in names: [String]) -> String? {
        guard tiedEmbeddings else { return nil }
        return ["lm_head.weight", "embed_out.weight"].first { names.contains($0) }
    }

    public static func ignoredTiedHeadNote(_ name: String) -> String {
        "\(name) is not used: the configuration ties the head to the embedding (tie_word_embeddings), as transformers does"
    }

    /// The one check of a configuration, whatever it was read from (config.json, GGUF
    /// keys, a .tlm header): values the arithmetic needs in range, then the largest sizes
    /// accepted. Every derived count (a model's tensors, bytes and offsets) then fits in 63
    /// bits, so an untrusted file can neither overflow the arithmetic nor ask for an absurd
    /// allocation.
    public func validate(file: String) throws(ConfigError) {
        guard heads > 0 else { throw .invalid(file: file, reason: "the number of attention heads must be positive") }
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw .invalid(file: file, reason: "\(kvHeads) key/value heads do not divide \(heads) attention heads")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0, layerNormEpsilon < 1 else {
            throw .invalid(file: file, reason: "the norm epsilon must be a positive number below 1, found \(layerNormEpsilon)")
        }
        guard ropeTheta.isFinite, ropeTheta > 1 else { throw .invalid(file: file, reason: "the rope base (rope_theta) must be a number above 1, found \(ropeTheta)") }
        if let s = ropeScaling {
            for (name, v) in [("factor", s.factor), ("low frequency factor", s.lowFrequencyFactor), ("high frequency factor", s.highFrequencyFactor)] {
                guard v.isFinite, v > 0 else { throw .invalid(file: file, reason: "the rope scaling \(name) must be a positive number, found \(v)") }
            }
            if s.type == "llama3" && s.highFrequencyFactor <= s.lowFrequencyFactor {
                throw .invalid(file: file, reason: "llama3 rope scaling needs its high frequency factor above its low frequency factor")
            }
        }
        // Token ids a file names must be tokens: -1 or 5,000,000,000 is no token of any vocabulary.
        for (name, id) in [("bos_token_id", bosTokenID), ("pad_token_id", padTokenID)] + eosTokenIDs.map({ ("eos_token_id", Optional($0)) }) {
            if let id, id < 0 || (vocabSize > 0 && id >= vocabSize) {
                throw .invalid(file: file, reason: "\(name) \(id) is not a token of the \(formatCount(vocabSize))-token vocabulary")
            }
        }
        if !slidingLayers.isEmpty {
            guard slidingLayers.count == layers else {
                throw .invalid(file: file, reason: "layer_types names \(slidingLayers.count) layers but the model has \(layers)")
            }
            guard !slidingLayers.contains(true) || slidingWindow != nil else { throw .invalid(file: file, reason: "sliding layers without a sliding_window") }
        }
        guard partialRotaryFactor > 0, partialRotaryFactor <= 1 else {
            throw .invalid(file: file, reason: "partial_rotary_factor must be above 0 and at most 1, found \(partialRotaryFactor)")
        }
        for (name, value) in [("local rope base", localRopeTheta), ("query_pre_attn_scalar", queryPreAttentionScalar),
                              ("attention soft cap", attentionSoftCap), ("final soft cap", finalSoftCap)] {
            if let v = value, !(v.isFinite && v > 0) { throw .invalid(file: file, reason: "the \(name) must be a positive number, found \(v)") }
        }
        if experts > 0 || expertsPerToken > 0 {
            guard experts <= Self.maxExperts, expertsPerToken >= 1, expertsPerToken <= experts else {
                throw .invalid(file: file, reason: "\(expertsPerToken) experts per token of \(experts) is not a mixture TensorLedger runs (1 to all of at most \(formatCount(Self.maxExperts)))")
            }
        }
        let limits: [(String, Int, Int)] = [
            ("layers", layers, 1 << 16), ("hidden size", hiddenSize, 1 << 20), ("intermediate size", intermediateSize, 1 << 22),
            ("vocabulary size", vocabSize, 1 << 24), ("context length", contextLength, 1 << 24), ("heads", heads, 1 << 16),
            ("head size", headDim, 1 << 16), ("token type vocabulary", typeVocabSize, 1 << 16),
            ("expert intermediate size", expertIntermediateSize, 1 << 22),
        ]
        for (name, value, max) in limits where value > max {
            throw .invalid(file: file, reason: "\(name) \(value) is above TensorLedger's limit of \(formatCount(max))")
        }
        // A configuration lists a tensor per layer, and per expert: as many as that are laid out.
        let tensorCount = Double(layers) * (24 + 3 * Double(experts))
        guard tensorCount <= Double(1 << 22) else {
            throw .invalid(file: file, reason: "\(formatCount(layers)) layers of \(formatCount(experts)) experts make about \(formatCount(Int(tensorCount))) tensors, beyond TensorLedger's limit of 4,194,304")
        }
        // Each size within its limit, their products may still not be: count in floating
        // point, where nothing wraps, before any tensor is laid out.
        let d = Double(hiddenSize), width = Double(heads) * Double(headDim), kv = Double(kvHeads) * Double(headDim)
        let mlp = 3 * d * Double(intermediateSize) + 3 * d * Double(experts) * Double(expertIntermediateSize) + d * Double(experts)
        let perLayer = d * (2 * width + 2 * kv + 3 * d) + mlp + 16 * (d + width + Double(intermediateSize) + Double(expertIntermediateSize))
        let total = Double(layers) * perLayer + d * (2 * Double(vocabSize) + Double(contextLength) + Double(typeVocabSize) + 2 * d)
        guard total * 4 < 0x1p60 else {
            throw .invalid(file: file, reason: "these sizes make about \(formatFixed(total / 1e18, 1))e18 parameters, beyond what TensorLedger counts (1.4e17 bytes in f32)")
        }
    }

    // MARK: Presets

    /// GPT-2 (Radford et al. 2019), the eight GPT-3 sizes of Brown et al. 2020, Table 2.1, and
    /// LLaMA-family models (Qwen3 and OLMo 2 among them) as their published config.json files give them.
    public static let presets: [(name: String, config: ModelConfig)] = {
        func gpt(_ layers: Int, _ d: Int, _ heads: Int, _ headDim: Int, ctx: Int) -> ModelConfig {
            ModelConfig(family: .gpt2, vocabSize: 50257, hiddenSize: d, layers: layers, heads: heads, headDim: headDim,
                        contextLength: ctx, tiedEmbeddings: true)
        }
        func llama(_ type: String, vocab: Int, d: Int, layers: Int, heads: Int, kv: Int, headDim: Int? = nil, ff: Int, ctx: Int,
                   tied: Bool, theta: Double, eps: Double, bias: Bool = false, scaling: RopeScaling? = nil) -> ModelConfig {
            var c = ModelConfig(family: .llama, modelType: type, vocabSize: vocab, hiddenSize: d, layers: layers, heads: heads, kvHeads: kv,
                                headDim: headDim, intermediateSize: ff, contextLength: ctx, tiedEmbeddings: tied, layerNormEpsilon: eps)
            c.ropeTheta = theta
            c.attentionBias = bias
            c.ropeScaling = scaling
            return c
        }
        func moe(_ base: ModelConfig, experts: Int, perToken: Int, width: Int, normalizes: Bool) -> ModelConfig {
            var c = base
            (c.experts, c.expertsPerToken, c.expertIntermediateSize, c.normalizesTopK) = (experts, perToken, width, normalizes)
            return c
        }
        func gemma3(vocab: Int, d: Int, layers: Int, heads: Int, kv: Int, ff: Int, window: Int, scaling: Double?) -> ModelConfig {
            var c = llama("gemma3_text", vocab: vocab, d: d, layers: layers, heads: heads, kv: kv, headDim: 256, ff: ff, ctx: 131_072,
                          tied: true, theta: 1_000_000, eps: 1e-6)
            c.activation = "gelu_pytorch_tanh"
            c.slidingWindow = window
            c.slidingLayers = (0..<layers).map { ($0 + 1) % 6 != 0 }
            c.localRopeTheta = 10_000
            c.queryPreAttentionScalar = 256
            if let factor = scaling { c.ropeScaling = RopeScaling(type: "linear"); c.ropeScaling?.factor = factor }
            return c
        }
        var llama3 = RopeScaling(type: "llama3")
        llama3.factor = 32
        return [
            ("smollm2-135m", llama("llama", vocab: 49152, d: 576, layers: 30, heads: 9, kv: 3, ff: 1536, ctx: 8192, tied: true,
                                   theta: 100_000, eps: 1e-5)),
            ("qwen2.5-0.5b", llama("qwen2", vocab: 151_936, d: 896, layers: 24, heads: 14, kv: 2, ff: 4864, ctx: 32768, tied: true,
                                   theta: 1_000_000, eps: 1e-6, bias: true)),
            ("llama-3.2-1b", llama("llama", vocab: 128_256, d: 2048, layers: 16, heads: 32, kv: 8, headDim: 64, ff: 8192, ctx: 131_072,
                                   tied: true, theta: 500_000, eps: 1e-5, scaling: llama3)),
            ("tinyllama-1.1b", llama("llama", vocab: 32000, d: 2048, layers: 22, heads: 32, kv: 4, ff: 5632, ctx: 2048, tied: false,
                                     theta: 10_000, eps: 1e-5)),
            ("qwen3-0.6b", llama("qwen3", vocab: 151_936, d: 1024, layers: 28, heads: 16, kv: 8, headDim: 128, ff: 3072, ctx: 40960,
                                 tied: true, theta: 1_000_000, eps: 1e-6)),
            ("qwen3-1.7b", llama("qwen3", vocab: 151_936, d: 2048, layers: 28, heads: 16, kv: 8, headDim: 128, ff: 6144, ctx: 40960,
                                 tied: true, theta: 1_000_000, eps: 1e-6)),
            ("qwen3-4b", llama("qwen3", vocab: 151_936, d: 2560, layers: 36, heads: 32, kv: 8, headDim: 128, ff: 9728, ctx: 40960,
                               tied: true, theta: 1_000_000, eps: 1e-6)),
            ("qwen3-8b", llama("qwen3", vocab: 151_936, d: 4096, layers: 36, heads: 32, kv: 8, headDim: 128, ff: 12288, ctx: 40960,
                               tied: false, theta: 1_000_000, eps: 1e-6)),
            ("phi-3-mini", llama("phi3", vocab: 32064, d: 3072, layers: 32, heads: 32, kv: 32, ff: 8192, ctx: 4096, tied: false,
                                 theta: 10_000, eps: 1e-5)),
            ("stablelm-2-1.6b", {
                var c = llama("stablelm", vocab: 100_352, d: 2048, layers: 24, heads: 32, kv: 32, ff: 5632, ctx: 4096, tied: false,
                              theta: 10_000, eps: 1e-5, bias: true)
                c.partialRotaryFactor = 0.25
                return c
            }()),
            ("gemma-2-2b", {
                var c = llama("gemma2", vocab: 256_000, d: 2304, layers: 26, heads: 8, kv: 4, headDim: 256, ff: 9216, ctx: 8192, tied: true,
                              theta: 10_000, eps: 1e-6)
                (c.activation, c.slidingWindow, c.queryPreAttentionScalar) = ("gelu_pytorch_tanh", 4096, 256)
                c.slidingLayers = (0..<26).map { $0 % 2 == 0 }
                (c.attentionSoftCap, c.finalSoftCap) = (50, 30)
                return c
            }()),
            ("gemma-3-1b", { var c = gemma3(vocab: 262_144, d: 1152, layers: 26, heads: 4, kv: 1, ff: 6912, window: 512, scaling: nil)
                             c.contextLength = 32768; return c }()),
            ("gemma-3-4b", gemma3(vocab: 262_208, d: 2560, layers: 34, heads: 8, kv: 4, ff: 10240, window: 1024, scaling: 8)),
            ("mixtral-8x7b", moe(llama("mixtral", vocab: 32000, d: 4096, layers: 32, heads: 32, kv: 8, ff: 14336, ctx: 32768,
                                       tied: false, theta: 1_000_000, eps: 1e-5), experts: 8, perToken: 2, width: 14336, normalizes: true)),
            ("qwen3-30b-a3b", moe(llama("qwen3_moe", vocab: 151_936, d: 2048, layers: 48, heads: 32, kv: 4, headDim: 128, ff: 6144,
                                        ctx: 40960, tied: false, theta: 1_000_000, eps: 1e-6), experts: 128, perToken: 8, width: 768, normalizes: true)),
            ("olmoe-1b-7b", moe(llama("olmoe", vocab: 50304, d: 2048, layers: 16, heads: 16, kv: 16, ff: 1024, ctx: 4096,
                                      tied: false, theta: 10_000, eps: 1e-5), experts: 64, perToken: 8, width: 1024, normalizes: false)),
            ("olmo-2-1b", llama("olmo2", vocab: 100_352, d: 2048, layers: 16, heads: 16, kv: 16, ff: 8192, ctx: 4096,
                                tied: false, theta: 500_000, eps: 1e-6)),
            ("gpt2", gpt(12, 768, 12, 64, ctx: 1024)),
            ("gpt2-medium", gpt(24, 1024, 16, 64, ctx: 1024)),
            ("gpt2-large", gpt(36, 1280, 20, 64, ctx: 1024)),
            ("gpt2-xl", gpt(48, 1600, 25, 64, ctx: 1024)),
            ("gpt3-small", gpt(12, 768, 12, 64, ctx: 2048)),
            ("gpt3-medium", gpt(24, 1024, 16, 64, ctx: 2048)),
            ("gpt3-large", gpt(24, 1536, 16, 96, ctx: 2048)),
            ("gpt3-xl", gpt(24, 2048, 24, 128, ctx: 2048)),
            ("gpt3-2.7b", gpt(32, 2560, 32, 80, ctx: 2048)),
            ("gpt3-6.7b", gpt(32, 4096, 32, 128, ctx: 2048)),
            ("gpt3-13b", gpt(40, 5140, 40, 128, ctx: 2048)),
            ("gpt3-175b", gpt(96, 12288, 96, 128, ctx: 2048)),
        ]
    }()

    public static func preset(_ name: String) throws(ConfigError) -> ModelConfig {
        guard let p = presets.first(where: { $0.name == name.lowercased() }) else {
            throw .unknownPreset(name: name, known: presets.map(\.name))
        }
        return p.config
    }
}

extension ModelConfig: JSONRepresentable {
    /// One field of the stored form (a .tlm header's `config`): its key, how it is written,
    /// and how it is read back. `storedFields` lists each field once for both directions.
    struct StoredField: Sendable {
        let key: String
        /// nil leaves the field out (a mixture's fields, in a dense model's header).
        let write: @Sendable (ModelConfig) -> JSONValue?
        let read: @Sendable (inout ModelConfig, JSONValue?, String) throws(ConfigError) -> Void

        /// A size: a non-negative integer, required unless it has a default.
        static func int(_ key: String, _ path: WritableKeyPath<ModelConfig, Int> & Sendable, default value: Int? = nil) -> StoredField {
            StoredField(key: key, write: { .int($0[keyPath: path]) }, read: { c, v, file throws(ConfigError) in
                guard case .int(let i)? = v, i >= 0, i <= 1 << 40 else {
                    guard let value else { throw .invalid(file: file, reason: "config.\(key) must be a non-negative integer") }
                    return c[keyPath: path] = value
                }
                c[keyPath: path] = i
            })
        }

        static func bool(_ key: String, _ path: WritableKeyPath<ModelConfig, Bool> & Sendable) -> StoredField {
            StoredField(key: key, write: { .bool($0[keyPath: path]) }, read: { c, v, _ in c[keyPath: path] = v?.bool ?? false })
        }

        /// A field only a mixture of experts writes.
        static func mixture(_ field: StoredField) -> StoredField {
            StoredField(key: field.key, write: { $0.experts > 0 ? field.write($0) : nil }, read: field.read)
        }

        /// A number kept as it is when absent (the initializer's default).
        static func number(_ key: String, _ path: WritableKeyPath<ModelConfig, Double> & Sendable) -> StoredField {
            StoredField(key: key, write: { .double($0[keyPath: path]) }, read: { c, v, _ in if let x = v?.number { c[keyPath: path] = x } })
        }
    }

    static let storedFields: [StoredField] = [
        StoredField(key: "family", write: { .string($0.family.rawValue) }, read: { c, v, file throws(ConfigError) in
            guard let f = v?.string.flatMap(ArchitectureFamily.init(rawValue:)) else { throw .invalid(file: file, reason: "config.family is not a known family") }
            c.family = f
        }),
        StoredField(key: "model_type", write: { .string($0.modelType) }, read: { c, v, _ in c.modelType = v?.string ?? c.family.rawValue }),
        .int("vocab_size", \.vocabSize), .int("hidden_size", \.hiddenSize), .int("layers", \.layers), .int("heads", \.heads),
        .int("kv_heads", \.kvHeads), .int("head_dim", \.headDim), .int("intermediate_size", \.intermediateSize),
        .int("context_length", \.contextLength),
        .bool("tied_embeddings", \.tiedEmbeddings),
        .number("layer_norm_epsilon", \.layerNormEpsilon),
        .int("type_vocab_size", \.typeVocabSize, default: 2),
        .bool("attention_bias", \.attentionBias),
        .mixture(.int("experts", \.experts, default: 0)), .mixture(.int("experts_per_token", \.expertsPerToken, default: 0)),
        .mixture(.int("expert_intermediate_size", \.expertIntermediateSize, default: 0)), .mixture(.bool("normalizes_top_k", \.normalizesTopK)),
        StoredField(key: "activation", write: { .string($0.activation) }, read: { c, v, _ in
            c.activation = v?.string ?? ModelConfig.defaultActivation(c.family)
        }),
        .number("rope_theta", \.ropeTheta),
        StoredField(key: "rope_scaling", write: { $0.ropeScaling?.json ?? .null }, read: { c, v, file throws(ConfigError) in
            if let o = v?.object { c.ropeScaling = try RopeScaling(o, file: file) }
        }),
        StoredField(key: "sliding_window", write: { $0.slidingWindow.map { .int($0) } ?? .null }, read: { c, v, _ in
            if case .int(let w)? = v, w > 0 { c.slidingWindow = w }
        }),
        StoredField(key: "sliding_layers", write: { $0.slidingLayers.isEmpty ? nil : .array($0.slidingLayers.map { .bool($0) }) }, read: { c, v, _ in
            c.slidingLayers = (v?.array ?? []).compactMap(\.bool)
        }),
        StoredField(key: "partial_rotary_factor", write: { $0.partialRotaryFactor == 1 ? nil : .double($0.partialRotaryFactor) }, read: { c, v, _ in
            c.partialRotaryFactor = v?.number ?? 1
        }),
        StoredField(key: "local_rope_theta", write: { $0.localRopeTheta.map { .double($0) } }, read: { c, v, _ in c.localRopeTheta = v?.number }),
        StoredField(key: "query_pre_attn_scalar", write: { $0.queryPreAttentionScalar.map { .double($0) } }, read: { c, v, _ in
            c.queryPreAttentionScalar = v?.number
        }),
        StoredField(key: "attn_logit_softcapping", write: { $0.attentionSoftCap.map { .double($0) } }, read: { c, v, _ in c.attentionSoftCap = v?.number }),
        StoredField(key: "final_logit_softcapping", write: { $0.finalSoftCap.map { .double($0) } }, read: { c, v, _ in c.finalSoftCap = v?.number }),
        StoredField(key: "bos_token_id", write: { $0.bosTokenID.map { .int($0) } ?? .null }, read: { c, v, _ in c.bosTokenID = v?.int }),
        StoredField(key: "pad_token_id", write: { $0.padTokenID.map { .int($0) } }, read: { c, v, _ in c.padTokenID = v?.int }),
        StoredField(key: "eos_token_ids", write: { .array($0.eosTokenIDs.map { .int($0) }) }, read: { c, v, _ in
            c.eosTokenIDs = (v?.array ?? []).compactMap(\.int)
        }),
    ]

    public var json: JSONValue {
        .object(JSONObject(uniqueKeysWithValues: Self.storedFields.compactMap { f in f.write(self).map { (f.key, $0) } }))
    }

    /// Reads back what `json` wrote (the configuration stored in a .tlm header).
    public static func parseStored(_ v: JSONValue) throws(ConfigError) -> ModelConfig {
        let file = ".tlm header"
        guard let o = v.object else { throw .invalid(file: file, reason: "config is not an object") }
        var c = ModelConfig(family: .gpt2, vocabSize: 0, hiddenSize: 0, layers: 0, heads: 0, contextLength: 0, tiedEmbeddings: false)
        for field in storedFields { try field.read(&c, o[field.key], file) }
        try c.validate(file: file)
        return c
    }
}

extension TLMFile {
    /// The configuration in the header, checked as any configuration is; nil when the file
    /// was converted without a config.json.
    public func modelConfig() throws(TLMError) -> ModelConfig? {
        guard header.config != .null else { return nil }
        do { return try ModelConfig.parseStored(header.config) } catch { throw .invalidHeader(file: path, reason: "config: \(error.description)") }
    }
}

extension VerifyReport {
    /// `verify`: every checksum and padding byte, and the configuration the header stores,
    /// checked as loading checks it, so a file verify passes is one the loader reads.
    public static func checkModel(_ path: String) throws -> VerifyReport {
        try check(path) { _ = try $0.modelConfig() }
    }
}

extension BPETokenizer {
    /// A token the model has no embedding row for could be fed to it: refused when a model
    /// is loaded and before a conversion writes a file that would be.
    public func checkFits(_ config: ModelConfig, source: String) throws(TokenizerError) {
        guard vocabularySize <= config.vocabSize else {
            throw .invalid(source: source, reason: "the tokenizer has \(formatCount(vocabularySize)) tokens but the model only \(formatCount(config.vocabSize)) embedding rows")
        }
    }
}
