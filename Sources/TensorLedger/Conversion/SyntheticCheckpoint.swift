// `synth`: a checkpoint of a configuration's shape with random weights from a seed, and
// config.json in Hugging Face's spelling beside it.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

public enum SyntheticCheckpoint {
    /// Writes a checkpoint of `config`'s shape with GPT-2-like random weights
    /// (normal, std 0.02; norms 1, biases 0) from a fixed seed, plus config.json (and
    /// `tokenizer` as tokenizer.json) beside it; returns the paths written. Every target is
    /// checked before the first is written, and none may be one of `inputs` (the config
    /// and tokenizer it was made from).
    @discardableResult
    public static func write(config: ModelConfig, directory: String, dtype: DType = .float32, seed: UInt64 = 42,
                             sparse: Bool = false, overwrite: Bool = false, tokenizer: BPETokenizer? = nil,
                             protecting inputs: [String] = []) throws(FileError) -> [String] {
        let paths = ["model.safetensors", "config.json"].map { joinPath(directory, $0) } + (tokenizer == nil ? [] : [joinPath(directory, "tokenizer.json")])
        for p in paths { try AtomicFileWriter.checkTarget(p, overwrite: overwrite, protecting: inputs) }
        let specs = config.syntheticTensors().map { TensorSpec(name: $0.name, dtype: dtype, shape: $0.shape) }
        var rng = SplitMix64(seed: seed)
        try write(path: paths[0], specs: specs, rng: &rng, sparse: sparse, overwrite: overwrite)
        var written = config
        written.weightDType = dtype
        try writeConfig(written, to: paths[1], overwrite: overwrite, protecting: inputs)
        if let tokenizer {
            let out = try AtomicFileWriter(path: paths[2], overwrite: overwrite, protecting: inputs)
            try out.write(tokenizer.tokenizerJSON())
            try out.commit()
        }
        return paths
    }

    private static func write(path: String, specs: [TensorSpec], rng: inout SplitMix64, sparse: Bool, overwrite: Bool) throws(FileError) {
        try SafetensorsWriter.write(path: path, tensors: specs, metadata: [("format", "pt")], overwrite: overwrite, sparse: sparse) { spec, raw in
            let n = spec.shape.reduce(1, *)
            let isNorm = spec.shape.count == 1 && spec.name.hasSuffix(".weight")
            let isBias = spec.name.hasSuffix(".bias")
            for i in 0..<n {
                let v: Float = isNorm ? 1 : (isBias ? 0 : rng.nextGaussianish(std: 0.02))
                switch spec.dtype {
                case .float16: raw.storeBytes(of: halfBitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .bfloat16: raw.storeBytes(of: bfloat16BitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                default: raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
    }

    /// config.json in Hugging Face's GPT-2 / LLaMA / BERT / NeoX spelling: every field
    /// ModelConfig.parse reads, so that parsing it gives `c` back (tested for every preset).
    public static func writeConfig(_ c: ModelConfig, to path: String, overwrite: Bool, protecting inputs: [String] = []) throws(FileError) {
        var o = JSONObject()
        o["model_type"] = .string(c.modelType)
        switch c.family {
        case .gpt2:
            o["vocab_size"] = .int(c.vocabSize); o["n_embd"] = .int(c.hiddenSize); o["n_layer"] = .int(c.layers)
            o["n_head"] = .int(c.heads); o["n_positions"] = .int(c.contextLength); o["n_inner"] = .int(c.intermediateSize)
            o["layer_norm_epsilon"] = .double(c.layerNormEpsilon)
            // GPT-3's table gives some sizes a head width other than width / heads (the 1.3B:
            // 2,048 wide, 24 heads of 128); transformers ignores the key, the ledger reads it.
            if c.headDim != c.hiddenSize / c.heads { o["head_dim"] = .int(c.headDim) }
        default:
            o["vocab_size"] = .int(c.vocabSize); o["hidden_size"] = .int(c.hiddenSize); o["num_hidden_layers"] = .int(c.layers)
            o["num_attention_heads"] = .int(c.heads); o["num_key_value_heads"] = .int(c.kvHeads)
            o["intermediate_size"] = .int(c.intermediateSize); o["max_position_embeddings"] = .int(c.contextLength)
            o["head_dim"] = .int(c.headDim); o["attention_bias"] = .bool(c.attentionBias); o["hidden_act"] = .string(c.activation)
            o["rms_norm_eps"] = .double(c.layerNormEpsilon); o["rope_theta"] = .double(c.ropeTheta)
            if let r = c.ropeScaling { o["rope_scaling"] = r.json }
            if let w = c.slidingWindow { o["sliding_window"] = .int(w); o["use_sliding_window"] = .bool(true) }
            if !c.slidingLayers.isEmpty { o["layer_types"] = .array(c.slidingLayers.map { .string($0 ? "sliding_attention" : "full_attention") }) }
            if let theta = c.localRopeTheta { o["rope_local_base_freq"] = .double(theta) }
            if let q = c.queryPreAttentionScalar { o["query_pre_attn_scalar"] = .double(q) }
            if c.partialRotaryFactor != 1 { o["partial_rotary_factor"] = .double(c.partialRotaryFactor) }
            if let cap = c.attentionSoftCap { o["attn_logit_softcapping"] = .double(cap) }
            if let cap = c.finalSoftCap { o["final_logit_softcapping"] = .double(cap) }
            if c.experts > 0 {
                o[c.record.experts == .mixtral ? "num_local_experts" : "num_experts"] = .int(c.experts)
                o["num_experts_per_tok"] = .int(c.expertsPerToken)
                o["moe_intermediate_size"] = .int(c.expertIntermediateSize)
                o["norm_topk_prob"] = .bool(c.normalizesTopK)
            }
        }
        if c.family == .bert { o["type_vocab_size"] = .int(c.typeVocabSize) }
        o["tie_word_embeddings"] = .bool(c.tiedEmbeddings)
        if let bos = c.bosTokenID { o["bos_token_id"] = .int(bos) }
        if let pad = c.padTokenID { o["pad_token_id"] = .int(pad) }
        switch c.eosTokenIDs.count {
        case 0: break
        case 1: o["eos_token_id"] = .int(c.eosTokenIDs[0])
        default: o["eos_token_id"] = .array(c.eosTokenIDs.map { .int($0) })
        }
        o["torch_dtype"] = .string(c.weightDType == .float16 ? "float16" : (c.weightDType == .bfloat16 ? "bfloat16" : "float32"))
        let out = try AtomicFileWriter(path: path, overwrite: overwrite, protecting: inputs)
        try out.write(Array((JSONValue.object(o).serialized() + "\n").utf8))
        try out.commit()
    }
}
