// The metadata keys TensorLedger reads and writes, spelled as llama.cpp spells them:
// one table for the reader (configurations, tokenizers) and the writer (convert).

public enum GGUFKey {
    public static let architecture = "general.architecture"
    public static let name = "general.name"
    public static let alignment = "general.alignment"
    public static let fileType = "general.file_type"
    public static let quantizationVersion = "general.quantization_version"
    public static let chatTemplate = "tokenizer.chat_template"

    /// A model's settings, under its architecture's name ("llama.embedding_length").
    public enum Model: String, Sendable, CaseIterable {
        case vocabularySize = "vocab_size"
        case contextLength = "context_length"
        case embeddingLength = "embedding_length"
        case blockCount = "block_count"
        case feedForwardLength = "feed_forward_length"
        case headCount = "attention.head_count"
        case headCountKV = "attention.head_count_kv"
        case keyLength = "attention.key_length"
        case valueLength = "attention.value_length"
        case expertCount = "expert_count"
        case expertUsedCount = "expert_used_count"
        case expertFeedForwardLength = "expert_feed_forward_length"
        case expertWeightsNorm = "expert_weights_norm"
        case parallelResidual = "use_parallel_residual"
        case slidingWindow = "attention.sliding_window"
        case slidingWindowPattern = "attention.sliding_window_pattern"
        case ropeFreqBaseSWA = "rope.freq_base_swa"
        case attentionSoftCap = "attn_logit_softcapping"
        case finalSoftCap = "final_logit_softcapping"
        case layerNormEpsilon = "attention.layer_norm_epsilon"
        case layerNormRMSEpsilon = "attention.layer_norm_rms_epsilon"
        case ropeDimensionCount = "rope.dimension_count"
        case ropeFreqBase = "rope.freq_base"
        case ropeScalingType = "rope.scaling.type"
        case ropeScalingFactor = "rope.scaling.factor"

        public func key(_ architecture: String) -> String { architecture + "." + rawValue }
    }

    /// The vocabulary and how to split text into it ("tokenizer.ggml.tokens").
    public enum Tokenizer: String, Sendable {
        case model, pre, tokens, scores, merges
        case tokenType = "token_type"
        case unknownTokenID = "unknown_token_id"
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
        case paddingTokenID = "padding_token_id"
        case addBOSToken = "add_bos_token"
        case addEOSToken = "add_eos_token"
        case addSpacePrefix = "add_space_prefix"

        public var key: String { "tokenizer.ggml." + rawValue }
    }
}
