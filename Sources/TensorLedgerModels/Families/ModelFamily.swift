// The registry of model families: one record per config.json `model_type` (and per GGUF
// `general.architecture`), saying which tensor layout it uses, how it differs from its
// layout's plain form (Qwen3's per-head q/k norms, OLMo 2's norms after each sublayer),
// what llama.cpp calls it, and whether the runner runs it. The layouts' tensor tables
// (FamilyTensor) are in the files beside this one; everything that names a tensor (the
// ledger's classifier, a configuration's tensor list, the GGUF reader and writer, the
// check that every stored parameter is used) reads them from here.

import TensorLedgerCore

/// How a family normalises the queries and keys before rotary positions.
public enum QKNorm: String, Sendable {
    /// One RMSNorm over each head's `head_dim` values, the weight shared by the heads (Qwen3, Gemma 3).
    case perHead
    /// One RMSNorm over all the heads' values together (OLMo 2).
    case whole
}

/// How a mixture of experts names its tensors.
public enum ExpertNaming: String, Sendable {
    /// `block_sparse_moe.gate` and `block_sparse_moe.experts.E.w1/w2/w3`; the chosen weights always sum to one.
    case mixtral
    /// `mlp.gate` and `mlp.experts.E.gate_proj/up_proj/down_proj` (Qwen3-MoE, OLMoE).
    case qwen
}

/// Where a block's RMSNorms sit around its attention and MLP.
public enum NormPlacement: String, Sendable {
    /// Before each sublayer, on its input (Llama and most families).
    case pre
    /// After each, on its output, before it is added back (OLMo 2).
    case post
    /// Both (Gemma 2 and 3).
    case sandwich
}

public struct ModelFamily: Sendable {
    /// config.json's `model_type`, and the other names it goes by.
    public let modelType: String
    public var aliases: [String] = []
    /// The naming convention and forward pass it shares with its relatives.
    public let layout: ArchitectureFamily
    /// llama.cpp's `general.architecture`; nil when this tool reads no GGUF of the family.
    public var gguf: String?
    /// RMSNorm on queries and keys before rotary positions.
    public var qkNorm: QKNorm?
    public var norms = NormPlacement.pre
    /// Gemma's conventions: RMSNorm scales by 1 + w (the checkpoint stores w), embeddings
    /// are multiplied by √d, and the MLP is GeGLU.
    public var gemma = false
    /// Q, K and V have biases unless config.json says otherwise (Qwen2).
    public var attentionBiasByDefault = false
    /// The sliding window applies unless config.json says `use_sliding_window: false` (Mistral).
    public var slidingWindowByDefault = false
    /// llama.cpp's converter reorders Q and K rows for ggml's interleaved RoPE (its llama
    /// architecture); the others it stores as they are and rotates in NeoX order.
    public var ggufPermutesQK = false
    /// A mixture of experts in place of the dense MLP.
    public var experts: ExpertNaming?
    /// Q, K and V in one matrix, and the MLP's gate and up in another (Phi-3).
    public var fusedProjections = false
    /// LayerNorm, with a bias, where the others have RMSNorm (StableLM).
    public var layerNorms = false
    /// Whether a tensor is one of the RMSNorm weights Gemma scales by 1 + w (which llama.cpp
    /// stores as 1 + w).
    public static func isGemmaNorm(_ t: TensorInfo) -> Bool { t.rank == 1 && t.name.hasSuffix("norm.weight") }
    /// How llama.cpp's GGUF architecture for a Gemma lays out what its keys leave unsaid:
    /// which layers slide (all but the last of every `slidingPattern`), the sliding layers'
    /// rope base when no key gives one (nil: the global base), and the layer count of the
    /// one model whose scores are scaled by (d / heads)^-1/2 rather than head_dim^-1/2
    /// (its query_pre_attn_scalar).
    public var ggufGemma: (slidingPattern: Int, slidingRopeBase: Double?, widthScaledLayers: Int)?

    /// The runner runs it (a ledger is made of any family).
    public var runs = true

    /// The name people know it by.
    public let displayName: String

    init(_ modelType: String, _ layout: ArchitectureFamily, gguf: String? = nil, _ displayName: String) {
        self.modelType = modelType
        self.layout = layout
        self.gguf = gguf
        self.displayName = displayName
    }

    public static let all: [ModelFamily] = {
        func with(_ f: ModelFamily, _ change: (inout ModelFamily) -> Void) -> ModelFamily {
            var f = f
            change(&f)
            return f
        }
        return [
            ModelFamily("gpt2", .gpt2, gguf: "gpt2", "GPT-2"),
            with(ModelFamily("llama", .llama, gguf: "llama", "Llama")) { $0.ggufPermutesQK = true },
            with(ModelFamily("mistral", .llama, gguf: "llama", "Mistral")) { $0.ggufPermutesQK = true; $0.slidingWindowByDefault = true },
            with(ModelFamily("qwen2", .llama, gguf: "qwen2", "Qwen2")) { $0.attentionBiasByDefault = true },
            with(ModelFamily("qwen3", .llama, gguf: "qwen3", "Qwen3")) { $0.qkNorm = .perHead },
            with(ModelFamily("olmo2", .llama, gguf: "olmo2", "OLMo 2")) { $0.qkNorm = .whole; $0.norms = .post },
            with(ModelFamily("phi3", .llama, gguf: "phi3", "Phi-3")) { $0.fusedProjections = true },
            with(ModelFamily("stablelm", .llama, gguf: "stablelm", "StableLM")) { $0.layerNorms = true },
            with(ModelFamily("gemma", .llama, gguf: "gemma", "Gemma")) { $0.gemma = true },
            with(ModelFamily("gemma2", .llama, gguf: "gemma2", "Gemma 2")) {
                $0.norms = .sandwich; $0.gemma = true; $0.slidingWindowByDefault = true
                $0.ggufGemma = (slidingPattern: 2, slidingRopeBase: nil, widthScaledLayers: 46)  // Gemma 2 27B
            },
            with(ModelFamily("gemma3_text", .llama, gguf: "gemma3", "Gemma 3")) {
                $0.qkNorm = .perHead; $0.norms = .sandwich; $0.gemma = true; $0.slidingWindowByDefault = true
                $0.ggufGemma = (slidingPattern: 6, slidingRopeBase: 10_000, widthScaledLayers: 62)  // Gemma 3 27B
            },
            // llama.cpp writes Mixtral as its llama architecture with experts.
            with(ModelFamily("mixtral", .llama, gguf: "llama", "Mixtral")) { $0.experts = .mixtral; $0.slidingWindowByDefault = true; $0.ggufPermutesQK = true },
            with(ModelFamily("qwen3_moe", .llama, gguf: "qwen3moe", "Qwen3-MoE")) { $0.experts = .qwen; $0.qkNorm = .perHead },
            with(ModelFamily("olmoe", .llama, gguf: "olmoe", "OLMoE")) { $0.experts = .qwen; $0.qkNorm = .whole },
            with(ModelFamily("bert", .bert, "BERT-style")) { $0.aliases = ["roberta", "distilroberta", "xlm-roberta", "camembert"]; $0.runs = false },
            with(ModelFamily("gpt_neox", .gptNeoX, "GPT-NeoX")) { $0.runs = false },
        ]
    }()

    /// The family of a config.json `model_type`.
    public static func named(_ modelType: String) -> ModelFamily? {
        all.first { $0.modelType == modelType || $0.aliases.contains(modelType) }
    }

    /// The family llama.cpp writes under this `general.architecture` (its first, for llama;
    /// the first with experts, for a llama with `experts`).
    public static func gguf(_ architecture: String, experts: Bool = false) -> ModelFamily? {
        all.first { $0.gguf == architecture && ($0.experts != nil) == experts } ?? all.first { $0.gguf == architecture }
    }

    /// The names TensorLedger reads, for messages.
    public static var knownTypes: String { all.map(\.modelType).joined(separator: ", ") }
    public static var knownGGUF: String { all.compactMap(\.gguf).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: ", ") }

    /// The layout's tensors this family's checkpoints can hold (Qwen3's q/k norms, not
    /// OLMo 2's; biases and the head whatever the configuration says).
    public var tensors: [FamilyTensor] { layout.tensors.filter { $0.when.fits(self) } }
}

extension ArchitectureFamily {
    /// The one tensor table of a layout; each family picks its rows (ModelFamily.tensors).
    public var tensors: [FamilyTensor] {
        switch self {
        case .gpt2: return FamilyTensor.gpt2
        case .llama: return FamilyTensor.llama
        case .bert: return FamilyTensor.bert
        case .gptNeoX: return FamilyTensor.gptNeoX
        }
    }

    /// Names that are stored buffers, not parameters (a causal mask, a rotary table).
    public var buffers: [String] {
        switch self {
        case .gpt2: return ["attn.bias", "attn.masked_bias"]
        case .llama: return ["rotary_emb.inv_freq", FamilyTensor.ropeDivisors]
        case .bert: return ["embeddings.position_ids", "embeddings.token_type_ids"]
        case .gptNeoX: return ["attention.bias", "attention.masked_bias", "rotary_emb.inv_freq", FamilyTensor.ropeDivisors]
        }
    }

    /// The prefix a layout's top-level names carry ("model.embed_tokens.weight"), which
    /// some checkpoints leave off.
    var namePrefix: String {
        switch self {
        case .gpt2: return "transformer."
        case .llama: return "model."
        case .bert: return ""
        case .gptNeoX: return "gpt_neox."
        }
    }
}

extension ModelConfig {
    /// This configuration's family record (its model_type's, or its layout's plain form).
    public var record: ModelFamily {
        ModelFamily.named(modelType) ?? ModelFamily.named(family.rawValue)!
    }
}
