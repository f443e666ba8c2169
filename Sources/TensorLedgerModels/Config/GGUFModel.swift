// A GGUF file as the rest of the tool sees a checkpoint: tensors under Hugging Face's
// names and shapes, and a ModelConfig from the architecture-prefixed metadata keys. The
// name tables follow llama.cpp's (gguf-py's TENSOR_NAMES for each architecture); the
// quirks of its converter are undone here: the Q and K rows it permutes for the llama
// architecture, GPT-2's Conv1D matrices it stores as rows, the head it writes out again
// as output.weight, Llama 3's rope scaling written as per-dimension divisors.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

public enum GGUFArchitecture: String, Sendable {
    case llama, qwen2, gpt2

    /// (GGUF name, Hugging Face name, the Hugging Face tensor is Conv1D [in, out]); "{n}" is a layer.
    package var names: [(gguf: String, hf: String, conv1D: Bool)] {
        switch self {
        case .llama, .qwen2:
            let b = "model.layers.{n}."
            return [
                ("token_embd.weight", "model.embed_tokens.weight", false),
                ("output_norm.weight", "model.norm.weight", false),
                ("output.weight", "lm_head.weight", false),
                ("rope_freqs.weight", GGUFArchitecture.ropeDivisors, false),
                ("blk.{n}.attn_norm.weight", b + "input_layernorm.weight", false),
                ("blk.{n}.attn_q.weight", b + "self_attn.q_proj.weight", false), ("blk.{n}.attn_q.bias", b + "self_attn.q_proj.bias", false),
                ("blk.{n}.attn_k.weight", b + "self_attn.k_proj.weight", false), ("blk.{n}.attn_k.bias", b + "self_attn.k_proj.bias", false),
                ("blk.{n}.attn_v.weight", b + "self_attn.v_proj.weight", false), ("blk.{n}.attn_v.bias", b + "self_attn.v_proj.bias", false),
                ("blk.{n}.attn_output.weight", b + "self_attn.o_proj.weight", false),
                ("blk.{n}.ffn_norm.weight", b + "post_attention_layernorm.weight", false),
                ("blk.{n}.ffn_gate.weight", b + "mlp.gate_proj.weight", false),
                ("blk.{n}.ffn_up.weight", b + "mlp.up_proj.weight", false),
                ("blk.{n}.ffn_down.weight", b + "mlp.down_proj.weight", false),
            ]
        case .gpt2:
            let b = "transformer.h.{n}."
            return [
                ("token_embd.weight", "transformer.wte.weight", false),
                ("position_embd.weight", "transformer.wpe.weight", false),
                ("output_norm.weight", "transformer.ln_f.weight", false), ("output_norm.bias", "transformer.ln_f.bias", false),
                ("output.weight", "lm_head.weight", false),
                ("blk.{n}.attn_norm.weight", b + "ln_1.weight", false), ("blk.{n}.attn_norm.bias", b + "ln_1.bias", false),
                ("blk.{n}.attn_qkv.weight", b + "attn.c_attn.weight", true), ("blk.{n}.attn_qkv.bias", b + "attn.c_attn.bias", false),
                ("blk.{n}.attn_output.weight", b + "attn.c_proj.weight", true), ("blk.{n}.attn_output.bias", b + "attn.c_proj.bias", false),
                ("blk.{n}.ffn_norm.weight", b + "ln_2.weight", false), ("blk.{n}.ffn_norm.bias", b + "ln_2.bias", false),
                ("blk.{n}.ffn_up.weight", b + "mlp.c_fc.weight", true), ("blk.{n}.ffn_up.bias", b + "mlp.c_fc.bias", false),
                ("blk.{n}.ffn_down.weight", b + "mlp.c_proj.weight", true), ("blk.{n}.ffn_down.bias", b + "mlp.c_proj.bias", false),
            ]
        }
    }

    /// Where Llama 3's rope scaling goes: llama.cpp stores divisors of the inverse frequencies.
    package static let ropeDivisors = "rope_freqs.weight"

    /// The Hugging Face name of a GGUF tensor, and whether that tensor is stored [in, out] there.
    package func huggingFace(_ name: String) -> (name: String, conv1D: Bool)? {
        var layer: String?
        var generic = name
        if name.hasPrefix("blk."), let dot = name.dropFirst(4).firstIndex(of: ".") {
            layer = String(name[name.index(name.startIndex, offsetBy: 4)..<dot])
            generic = "blk.{n}" + name[dot...]
        }
        guard let entry = names.first(where: { $0.gguf == generic }) else { return nil }
        return (layer.map { entry.hf.replacing("{n}", with: $0) } ?? entry.hf, entry.conv1D)
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
    public var architecture: GGUFArchitecture? { string(GGUFKey.architecture).flatMap(GGUFArchitecture.init(rawValue:)) }

    /// The tensors under Hugging Face's names; tensors no table names keep their GGUF names.
    /// `parametersOnly` leaves out GPT-2's head, which llama.cpp writes again as
    /// output.weight although the checkpoint ties it to the embedding.
    public func huggingFaceTensors(parametersOnly: Bool = false) -> [GGUFTensorMapping] {
        tensors.filter { !(parametersOnly && architecture == .gpt2 && $0.name == "output.weight") }.map { t in
            let mapped = architecture?.huggingFace(t.name)
            let shape = mapped?.conv1D == true ? t.dimensions : t.dimensions.reversed()
            return GGUFTensorMapping(info: TensorInfo(name: mapped?.name ?? t.name, dtype: t.type.plainDType ?? .uint8, shape: Array(shape),
                                                      dataOffsets: t.offset..<(t.offset + t.byteCount)),
                                     gguf: t, conv1D: mapped?.conv1D == true)
        }
    }

    /// The model's configuration from `<architecture>.*` keys.
    public func modelConfig() throws(ConfigError) -> ModelConfig {
        guard let arch = string(GGUFKey.architecture) else { throw .invalid(file: path, reason: "no general.architecture") }
        guard let known = GGUFArchitecture(rawValue: arch) else {
            throw .invalid(file: path, reason: "GGUF architecture \"\(arch)\" is not one TensorLedger knows (llama, qwen2, gpt2)")
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
        let family: ArchitectureFamily = known == .gpt2 ? .gpt2 : .llama
        var c = ModelConfig(family: family, modelType: arch, vocabSize: vocab, hiddenSize: d, layers: try required(.blockCount), heads: heads,
                            kvHeads: int(.headCountKV), headDim: int(.keyLength) ?? int(.ropeDimensionCount),
                            intermediateSize: int(.feedForwardLength), contextLength: try required(.contextLength),
                            tiedEmbeddings: known == .gpt2 || tensor(named: "output.weight") == nil,
                            layerNormEpsilon: number(.layerNormRMSEpsilon) ?? number(.layerNormEpsilon) ?? 1e-5)
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
        guard architecture == .llama else { return nil }
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
