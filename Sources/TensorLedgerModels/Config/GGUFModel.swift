// A GGUF file as the rest of the tool sees a checkpoint: tensors under Hugging Face's
// names and shapes, and a ModelConfig from the architecture-prefixed metadata keys. The
// name tables follow llama.cpp's (gguf-py's TENSOR_NAMES for each architecture); the
// quirks of its converter are undone here: the Q and K rows it permutes for the llama
// architecture, GPT-2's Conv1D matrices it stores as rows, the head it writes out again
// as output.weight, Llama 3's rope scaling written as per-dimension divisors.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

extension ModelFamily {
    /// llama.cpp's name for a tensor of this family (Hugging Face name), if it has one.
    package func ggufName(of name: String) -> String? {
        let layer = TensorClassifier.layerIndex(of: name), expert = FamilyTensor.expertIndex(of: name) ?? 0
        for t in tensors {
            // Every expert's matrix goes into the layer's one stacked tensor.
            if t.perLayer, let layer, t.name(layer: layer, expert: expert) == name { return t.ggufName(layer: layer) }
            if !t.perLayer, t.name == name { return t.gguf }
        }
        return nil
    }

    /// The table row of a GGUF tensor and its layer, if any.
    package func row(ofGGUF name: String) -> (row: FamilyTensor, layer: Int)? {
        let layer = name.hasPrefix("blk.") ? TensorClassifier.layerIndex(of: name) : nil
        for t in tensors where t.gguf != nil {
            if t.perLayer, let layer, t.ggufName(layer: layer) == name { return (t, layer) }
            if !t.perLayer, t.gguf == name { return (t, 0) }
        }
        return nil
    }
}

/// One tensor of a GGUF file under its Hugging Face name.
public struct GGUFTensorMapping: Sendable {
    /// Hugging Face name and shape (PyTorch order, or [in, out] for Conv1D); the dtype is
    /// the plain one for unquantized types and U8 for quantized ones, the byte range the file's.
    public var info: TensorInfo
    public var gguf: GGUFTensorInfo
    /// Hugging Face stores it [in, out] (GPT-2's Conv1D); GGUF as rows of outputs.
    public var conv1D: Bool
}

extension GGUFFile {
    /// The family llama.cpp's `general.architecture` names, if this tool knows it (its
    /// llama architecture with `expert_count` is Mixtral's).
    public var family: ModelFamily? {
        guard let arch = string(GGUFKey.architecture) else { return nil }
        return ModelFamily.gguf(arch, experts: (value(GGUFKey.Model.expertCount.key(arch))?.int ?? 0) > 0)
    }

    /// The tensors under Hugging Face's names; tensors no table names keep their GGUF names.
    /// `parametersOnly` leaves out GPT-2's head, which llama.cpp writes again as
    /// output.weight although the checkpoint ties it to the embedding. A mixture's stacked
    /// experts (`blk.N.ffn_up_exps.weight`, [in, out, experts]) become one matrix per expert
    /// under its checkpoint name, each its slice of the stack, unless `splittingExperts` is
    /// false (llama-quantize's view: a GGUF tensor for each of the file's).
    public func huggingFaceTensors(parametersOnly: Bool = false, splittingExperts: Bool = true) -> [GGUFTensorMapping] {
        let family = family
        return tensors.filter { !(parametersOnly && family?.layout == .gpt2 && $0.name == "output.weight") }.flatMap { t -> [GGUFTensorMapping] in
            let mapped = family?.row(ofGGUF: t.name)
            // At most as many experts as a configuration may have (ModelConfig.validate): a
            // header cannot make this list as long as it likes.
            if let (row, layer) = mapped, row.perExpert, splittingExperts, t.dimensions.count == 3,
               t.dimensions[0] > 0, t.dimensions[1] > 0, (1...ModelConfig.maxExperts).contains(t.dimensions[2]) {
                let slice = t.byteCount / t.dimensions[2]
                return (0..<t.dimensions[2]).map { e in
                    var part = t
                    (part.name, part.dimensions, part.offset, part.byteCount) = ("\(t.name)[\(e)]", Array(t.dimensions.prefix(2)), t.offset + e * slice, slice)
                    return GGUFTensorMapping(info: TensorInfo(name: row.name(layer: layer, expert: e), dtype: t.type.plainDType ?? .uint8,
                                                              shape: part.dimensions.reversed(), dataOffsets: part.offset..<(part.offset + slice)),
                                             gguf: part, conv1D: false)
                }
            }
            let name = mapped.flatMap { $0.row.perExpert ? nil : $0.row.perLayer ? $0.row.name(layer: $0.layer) : $0.row.name }
            let conv1D = mapped?.row.conv1D == true
            let shape = conv1D ? t.dimensions : t.dimensions.reversed()
            return [GGUFTensorMapping(info: TensorInfo(name: name ?? t.name, dtype: t.type.plainDType ?? .uint8, shape: Array(shape),
                                                       dataOffsets: t.offset..<(t.offset + t.byteCount)),
                                      gguf: t, conv1D: conv1D)]
        }
    }

    /// The model's configuration from `<architecture>.*` keys.
    public func modelConfig() throws(ConfigError) -> ModelConfig {
        guard let arch = string(GGUFKey.architecture) else { throw .invalid(file: path, reason: "no general.architecture") }
        guard let known = family else {
            throw .invalid(file: path, reason: "GGUF architecture \"\(arch)\" is not one TensorLedger knows (\(ModelFamily.knownGGUF))")
        }
        func int(_ key: GGUFKey.Model) -> Int? { value(key.key(arch))?.int }
        func number(_ key: GGUFKey.Model) -> Double? { value(key.key(arch))?.number }
        func required(_ key: GGUFKey.Model) throws(ConfigError) -> Int {
            guard let v = int(key), v >= 0, v <= 1 << 40 else { throw .invalid(file: path, reason: "missing or invalid \(key.key(arch))") }
            return v
        }
        let d = try required(.embeddingLength), heads = try required(.headCount)
        guard heads > 0 else { throw .invalid(file: path, reason: "\(GGUFKey.Model.headCount.key(arch)) is 0") }
        let embedding = tensor(named: "token_embd.weight")
        let vocab = int(.vocabularySize) ?? embedding?.dimensions.last ?? strings(GGUFKey.Tokenizer.tokens.key)?.count ?? 0
        var c = ModelConfig(family: known.layout, modelType: known.modelType, vocabSize: vocab, hiddenSize: d, layers: try required(.blockCount), heads: heads,
                            kvHeads: int(.headCountKV), headDim: int(.keyLength),
                            intermediateSize: int(.feedForwardLength), contextLength: try required(.contextLength),
                            tiedEmbeddings: known.layout == .gpt2 || tensor(named: "output.weight") == nil,
                            layerNormEpsilon: number(.layerNormRMSEpsilon) ?? number(.layerNormEpsilon) ?? 1e-5)
        // As llama.cpp reads them: the rotated dimensions default to the head width, and fewer
        // (Phi-4-mini, StableLM) leave the rest of each head unturned.
        if let rotated = int(.ropeDimensionCount), rotated != c.headDim, c.headDim > 0 {
            c.partialRotaryFactor = Double(rotated) / Double(c.headDim)
        }
        if known.layerNorms, value(GGUFKey.Model.parallelResidual.key(arch)) != .bool(false) {
            throw .invalid(file: path, reason: "\(GGUFKey.Model.parallelResidual.key(arch)) is not false: the runner does not do parallel residual blocks yet")
        }
        // Gemma 2 and 3 as llama.cpp reads them: GeGLU; sliding layers as the family lays them
        // out (Gemma 2 every other one, Gemma 3 five of every six) unless the pattern key says,
        // Gemma 3's with their own rope base; scores scaled by head_dim^-1/2, but by
        // (d / heads)^-1/2 for each family's 27B, which is what its query_pre_attn_scalar says.
        if known.gemma {
            let layout = known.ggufGemma ?? (slidingPattern: 6, slidingRopeBase: 10_000, widthScaledLayers: 62)
            c.activation = "gelu_pytorch_tanh"
            if let window = int(.slidingWindow), window > 0 {
                c.slidingWindow = window
                if case .array(.bool, let flags)? = value(GGUFKey.Model.slidingWindowPattern.key(arch)) {
                    c.slidingLayers = flags.map { $0 == .bool(true) }
                } else {
                    let n = int(.slidingWindowPattern) ?? layout.slidingPattern
                    c.slidingLayers = (0..<c.layers).map { n == 0 || $0 % n < n - 1 }
                }
                c.localRopeTheta = number(.ropeFreqBaseSWA) ?? layout.slidingRopeBase
            }
            c.queryPreAttentionScalar = Double(c.layers == layout.widthScaledLayers ? d / heads : c.headDim)
            if let cap = number(.finalSoftCap), cap > 0 { c.finalSoftCap = cap }
            if let cap = number(.attentionSoftCap), cap > 0 { c.attentionSoftCap = cap }
        }
        // A mixture as llama.cpp reads it: its experts' width from their own key (Qwen3-MoE)
        // or the MLP's; the chosen experts' weights renormalised where the key says, else as
        // the family does (Mixtral and Qwen3-MoE do, OLMoE does not).
        if let experts = int(.expertCount), experts > 0 {
            c.experts = experts
            c.expertsPerToken = try required(.expertUsedCount)
            c.expertIntermediateSize = int(.expertFeedForwardLength) ?? c.intermediateSize
            if case .bool(let norm)? = value(GGUFKey.Model.expertWeightsNorm.key(arch)) { c.normalizesTopK = norm }
            else { c.normalizesTopK = known.modelType != "olmoe" }
        }
        if let v = int(.valueLength), v != c.headDim {
            throw .invalid(file: path, reason: "\(GGUFKey.Model.valueLength.key(arch)) \(v) differs from the key length \(c.headDim), which the runner does not support")
        }
        if let theta = number(.ropeFreqBase) { c.ropeTheta = theta }
        c.attentionBias = tensor(named: "blk.0.attn_q.bias") != nil
        if let type = string(GGUFKey.Model.ropeScalingType.key(arch)), type != "none" {
            var scaling = RopeScaling(type: type)
            scaling.factor = number(.ropeScalingFactor) ?? 1
            c.ropeScaling = scaling
        }
        try c.validate(file: path)
        return c
    }
}

extension GGUFFile {
    /// For the llama architecture's Q and K (Hugging Face names, `rows` rows): how
    /// llama.cpp reordered them; nil for every other tensor.
    package func rowPermutation(_ hfName: String, rows: Int, config: ModelConfig) throws(GGUFError) -> GGUFRowPermutation? {
        guard family?.ggufPermutesQK == true else { return nil }
        return try GGUFRowPermutation.forLlama(hfName, rows: rows, config: config, file: path)
    }
}

extension GGUFRowPermutation {
    /// The permutation llama.cpp applies to a llama tensor (Hugging Face name), if any.
    package static func forLlama(_ hfName: String, rows: Int, config: ModelConfig, file: String) throws(GGUFError) -> GGUFRowPermutation? {
        let heads: Int
        if hfName.hasSuffix("self_attn.q_proj.weight") { heads = config.heads }
        else if hfName.hasSuffix("self_attn.k_proj.weight") { heads = config.kvHeads }
        else { return nil }
        return try GGUFRowPermutation(rows: rows, heads: heads, tensor: hfName, file: file)
    }
}
