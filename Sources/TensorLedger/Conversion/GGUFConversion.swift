// `convert MODEL OUT.gguf`: a safetensors checkpoint to a GGUF file llama.cpp runs, for
// every family with a GGUF architecture (ModelFamily.gguf), with the metadata keys, tensor names and
// tokenizer keys llama.cpp's own converter writes, and its quirks: GPT-2's Conv1D
// matrices as rows and its tied head written again as output.weight; the llama
// architecture's Q and K rows permuted for ggml's RoPE. Matrices go to Q8_0 (ggml's own
// rounding), F16, BF16 or F32 as the same per-tensor decision as for .tlm files says;
// norms and biases stay F32. This file makes the plan; Converter.convert encodes and
// GGUFFileWriter writes (the header first, since every size is known).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime
import CKernels

public enum GGUFConversionError: TensorLedgerError, Equatable {
    case unsupported(file: String, reason: String)
    /// A weight scheme GGUF has no type for.
    case noSuchType(file: String, scheme: String)

    public var category: ErrorCategory { .badInput }
    public var remedy: Remedy? {
        if case .noSuchType = self { return .otherScheme }
        return nil
    }
    public var description: String {
        switch self {
        case .unsupported(let f, let r): return "\(f): cannot write it as GGUF: \(r)"
        case .noSuchType(let f, let s): return "\(f): cannot write it as GGUF: GGUF has no \(s) type"
        }
    }
}

extension Converter {
    /// The GGUF plan: llama.cpp's names, metadata and tokenizer keys for the architecture.
    static func ggufPlan(_ checkpoint: Checkpoint, input: String, options: ConversionOptions) throws -> Plan {
        guard options.scheme.ggmlType != nil else {
            throw GGUFConversionError.noSuchType(file: input, scheme: options.scheme.rawValue)
        }
        guard let configPath = checkpoint.sidecar("config.json") else { throw ModelLoadError.noConfig(source: checkpoint.path) }
        let config = try ModelConfig.load(configPath)
        let family = config.record
        guard let arch = family.gguf else {
            throw GGUFConversionError.unsupported(file: input, reason: "\(config.modelType) models have no GGUF architecture here (\(ModelFamily.knownGGUF))")
        }
        // GPT-2's tied head is written again as output.weight (below), so a mix's rules see
        // an output matrix, as llama.cpp's do in the file.
        var mixModel = QuantMix.Model(config: config, tensors: checkpoint.tensors.map(\.info))
        if family.layout == .gpt2 { mixModel.hasOutput = true }
        var (items, dropped, planWarnings) = try plan(checkpoint, config: config, options: options, mixModel: mixModel)
        // llama.cpp keeps Gemma's RMSNorm weights as the 1 + w they scale by.
        for i in items.indices where family.gemma && ModelFamily.isGemmaNorm(items[i].source.info) { items[i].valueShift = 1 }
        func ggufName(_ hf: String) throws -> String {
            guard let g = family.ggufName(of: hf) else { throw GGUFConversionError.unsupported(file: input, reason: "no GGUF name for tensor \"\(hf)\"") }
            return g
        }
        // llama.cpp stacks a layer's experts into one tensor per matrix: each stack's
        // experts in order, one after another, where its first expert was.
        var names = try items.map { try ggufName($0.source.name) }
        let stacks = Dictionary(grouping: items.indices.filter { FamilyTensor.isExpert(items[$0].source.name) }, by: { names[$0] })
        if !stacks.isEmpty {
            var order: [Int] = []
            var placed = Set<String>()
            for i in items.indices {
                guard let stack = stacks[names[i]] else { order.append(i); continue }
                if placed.insert(names[i]).inserted {
                    order += stack.sorted { FamilyTensor.expertIndex(of: items[$0].source.name)! < FamilyTensor.expertIndex(of: items[$1].source.name)! }
                }
            }
            (items, names) = (order.map { items[$0] }, order.map { names[$0] })
        }
        let inputBytes = items.reduce(0) { $0 + $1.source.info.byteCount }
        // The embedding first: usually the largest tensor, it is encoded while the header is
        // laid out (see GGUFFileWriter). llama.cpp writes GPT-2's tied head again (the llama
        // architecture reads token_embd when output is absent): right after the embedding,
        // so its encoded bytes are written twice.
        if let e = items.firstIndex(where: { $0.category == .embedding }) {
            let (item, name) = (items.remove(at: e), names.remove(at: e))
            items.insert(item, at: 0)
            names.insert(name, at: 0)
            if family.layout == .gpt2 && !items.contains(where: { $0.category == .unembedding }) {
                // A mix quantizes it as the output matrix it is here (llama.cpp sees output.weight).
                var head = item
                if let mix = options.mix, let type = mix.type(of: .output, layer: nil, cols: item.shape[1], model: mixModel),
                   let scheme = WeightScheme(ggmlType: type) {
                    head.storage.scheme = scheme
                    head.rawBytes = TLMTensorEntry.expectedRawBytes(shape: item.shape, scheme: scheme)!
                }
                items.insert(head, at: 1)
                names.insert("output.weight", at: 1)
            }
        }
        // GGUF shapes are the stored rows: ggml's order reverses them. An expert after the
        // first of its stack adds a layer to the stack's tensor and follows its bytes.
        var tensors: [GGUFTensorPlan] = []
        for i in items.indices {
            let plan = GGUFTensorPlan(name: names[i], dimensions: items[i].shape.reversed(), type: items[i].scheme.ggmlType!)
            (items[i].storedBytes, items[i].rawBytes) = (plan.byteCount, plan.byteCount)
            if stacks[names[i]] == nil {
                tensors.append(plan)
            } else if i > 0 && names[i - 1] == names[i] {
                guard tensors[tensors.count - 1].type == plan.type else {
                    throw GGUFConversionError.unsupported(file: input, reason: "the experts of \(names[i]) would be stored in different types")
                }
                tensors[tensors.count - 1].dimensions[2] += 1
                items[i].continuesPrevious = true
            } else {
                tensors.append(GGUFTensorPlan(name: names[i], dimensions: plan.dimensions + [1], type: plan.type))
            }
        }
        // Llama 3's rope scaling, as llama.cpp writes it: divisors of the inverse frequencies.
        var leading: [(plan: GGUFTensorPlan, values: [Float])] = []
        if let s = config.ropeScaling, s.type == "llama3" {
            let plain = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, scaling: nil)
            let scaled = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, scaling: s)
            leading.append((GGUFTensorPlan(name: FamilyTensor.ropeDivisors, dimensions: [config.headDim / 2], type: .f32),
                            zip(plain.inverseFrequencies, scaled.inverseFrequencies).map { Float($0 / $1) }))
        }
        tensors = leading.map(\.plan) + tensors
        let dataBytes = GGUFWriter.layOut(&tensors)
        var warnings = checkpoint.warnings + planWarnings
        let tokenizerPath = checkpoint.sidecar("tokenizer.json")
        if tokenizerPath == nil { warnings.append("no tokenizer.json beside the weights: the GGUF file carries no tokenizer, and llama.cpp will not load it") }
        // The metadata holds the vocabulary: the tokenizer is read and the header laid out
        // while the first tensors are encoded (the writer waits for it before writing them).
        let name = modelName(checkpoint, config: config), table = tensors
        let header = { () throws -> [UInt8] in
            let tokenizer = try tokenizerPath.map { try BPETokenizer.load($0) }
            try tokenizer?.checkFits(config, source: tokenizerPath ?? input)
            let chat = try TokenizerConfig.load(forModel: input)
            var metadata = try ggufMetadata(config: config, arch: arch, name: name, weights: options.weights, tokenizer: tokenizer, chat: chat, source: input)
            metadata.sort { $0.0.hasPrefix("general.") && !$1.0.hasPrefix("general.") }
            let bytes = GGUFWriter.header(metadata: metadata, tensors: table)
            try checkReadable(bytes, source: input)
            return bytes
        }
        let inputs = checkpoint.inputPaths
        return Plan(format: .gguf, items: items, dropped: dropped, warnings: warnings, fileBytes: { try header().count + dataBytes },
                    permutations: try items.map { family.ggufPermutesQK ? try GGUFRowPermutation.forLlama($0.source.name, rows: $0.shape.first ?? 0, config: config, file: input) : nil }, inputBytes: inputBytes,
                    source: .checkpoint(checkpoint), makeWriter: { output, overwrite in
                        try GGUFFileWriter(path: output, overwrite: overwrite, protecting: inputs, header: BackgroundTask(header), leading: leading.map(\.values))
                    })
    }

    /// The header about to be written, read back as `run` would read it: a file its own
    /// reader would refuse is never written. (Beside the encoders, on the header's thread.)
    static func checkReadable(_ header: [UInt8], source: String) throws {
        let file = try GGUFFile.parse(header, path: source)
        let config = try file.modelConfig()
        try ModelLoader.checkRunnable(config, tensors: file.huggingFaceTensors().map(\.info), source: source)
        if let tokens = file.strings(GGUFKey.Tokenizer.tokens.key), tokens.count > config.vocabSize {
            throw TokenizerError.invalid(source: source, reason: "the tokenizer has \(formatCount(tokens.count)) tokens but the model only \(formatCount(config.vocabSize)) embedding rows")
        }
    }

    /// The keys llama.cpp's converter writes for these architectures and their tokenizers.
    static func ggufMetadata(config c: ModelConfig, arch a: String, name: String, weights: WeightChoice,
                             tokenizer: BPETokenizer?, chat: TokenizerConfig, source: String) throws -> [(String, GGUFValue)] {
        func key(_ k: GGUFKey.Model) -> String { k.key(a) }
        var m: [(String, GGUFValue)] = [
            (GGUFKey.architecture, .string(a)),
            (GGUFKey.name, .string(name)),
            (GGUFKey.fileType, .u32(weights.ggufFileType)),
            (key(.contextLength), .u32(UInt32(c.contextLength))),
            (key(.embeddingLength), .u32(UInt32(c.hiddenSize))),
            (key(.blockCount), .u32(UInt32(c.layers))),
            (key(.feedForwardLength), .u32(UInt32(c.intermediateSize))),
            (key(.headCount), .u32(UInt32(c.heads))),
        ]
        // llama.cpp's converter writes the quantization version whatever the types.
        m.append((GGUFKey.quantizationVersion, .u32(2)))
        if c.family == .gpt2 {
            m.append((key(.layerNormEpsilon), .f32(Float(c.layerNormEpsilon))))
        } else {
            m.append((key(.headCountKV), .u32(UInt32(c.kvHeads))))
            if c.record.layerNorms {
                m.append((key(.layerNormEpsilon), .f32(Float(c.layerNormEpsilon))))
                m.append((key(.parallelResidual), .bool(false)))
            } else {
                m.append((key(.layerNormRMSEpsilon), .f32(Float(c.layerNormEpsilon))))
            }
            // llama.cpp's converter states the vocabulary and the rotary width for every llama
            // architecture model (Llama, Mistral, Mixtral); for the others, a partial rotary width.
            if a == "llama" { m.append((key(.vocabularySize), .u32(UInt32(c.vocabSize)))) }
            if c.rotaryDim != c.headDim || a == "llama" { m.append((key(.ropeDimensionCount), .u32(UInt32(c.rotaryDim)))) }
            if let layout = c.record.ggufGemma {
                // What llama.cpp derives rather than reads must be what the model has.
                let scalar = Double(c.layers == layout.widthScaledLayers ? c.hiddenSize / c.heads : c.headDim)
                if let q = c.queryPreAttentionScalar, q != scalar {
                    throw GGUFConversionError.unsupported(file: source, reason: "its query_pre_attn_scalar is \(formatFixed(q, 0)), and llama.cpp's \(a) scales scores by \(formatFixed(scalar, 0))^-1/2 for this shape")
                }
                if let window = c.slidingWindow {
                    m.append((key(.slidingWindow), .u32(UInt32(window))))
                    if let local = c.localRopeTheta, local != c.ropeTheta || layout.slidingRopeBase != nil {
                        m.append((key(.ropeFreqBaseSWA), .f32(Float(local))))
                    }
                    let n = layout.slidingPattern
                    if !c.slidingLayers.isEmpty && c.slidingLayers != (0..<c.layers).map({ $0 % n < n - 1 }) {
                        throw GGUFConversionError.unsupported(file: source, reason: "its sliding-window layers are not every \(n == 2 ? "other" : "\(n - 1) in \(n)") layer, which is all llama.cpp's \(a) reads")
                    }
                }
            }
            if c.experts > 0 {
                // llama.cpp's architectures renormalise the chosen experts' weights as the family
                // does (OLMoE not, the others yes); a model that differs would run differently there.
                let renormalises = c.record.modelType != "olmoe"
                if c.normalizesTopK != renormalises {
                    throw GGUFConversionError.unsupported(file: source, reason: "its norm_topk_prob is \(c.normalizesTopK), and llama.cpp's \(a) \(renormalises ? "renormalises" : "does not renormalise") the chosen experts' weights")
                }
                // llama.cpp's olmoe sizes the key norm by d_model: it loads no model with fewer
                // key/value heads than query heads.
                if a == "olmoe" && c.kvHeads != c.heads {
                    throw GGUFConversionError.unsupported(file: source, reason: "it has \(c.kvHeads) key/value heads for \(c.heads) query heads, and llama.cpp's olmoe loads only as many as query heads")
                }
                m.append((key(.expertCount), .u32(UInt32(c.experts))))
                m.append((key(.expertUsedCount), .u32(UInt32(c.expertsPerToken))))
                if c.expertIntermediateSize != c.intermediateSize { m.append((key(.expertFeedForwardLength), .u32(UInt32(c.expertIntermediateSize)))) }
            }
            if let cap = c.finalSoftCap { m.append((key(.finalSoftCap), .f32(Float(cap)))) }
            if let cap = c.attentionSoftCap { m.append((key(.attentionSoftCap), .f32(Float(cap)))) }
            m.append((key(.ropeFreqBase), .f32(Float(c.ropeTheta))))
            // The converter states the head width where config.json does: always for Gemma and
            // Qwen3 (their configs carry head_dim), else where it is not d / heads.
            if c.headDim != c.hiddenSize / c.heads || c.record.gemma || ["qwen3", "qwen3_moe"].contains(c.record.modelType) {
                m.append((key(.keyLength), .u32(UInt32(c.headDim))))
                m.append((key(.valueLength), .u32(UInt32(c.headDim))))
            }
            if let s = c.ropeScaling, s.type != "llama3" {  // llama3's is the rope_freqs tensor
                guard s.type == "linear" else {
                    throw GGUFConversionError.unsupported(file: source, reason: "rope scaling \(s.type) is not written to GGUF yet")
                }
                m.append((key(.ropeScalingType), .string("linear")))
                m.append((key(.ropeScalingFactor), .f32(Float(s.factor))))
            }
        }
        guard let tok = tokenizer else { return m }
        // llama.cpp wants a token per embedding row: a padded vocabulary gets [PADn] tokens, unused.
        let padding = (tok.vocabularySize..<max(c.vocabSize, tok.vocabularySize)).map { "[PAD\($0)]" }
        var types = [Int32](repeating: 1, count: tok.vocabularySize) + padding.map { _ in 5 }
        for t in tok.addedTokens { types[t.id] = t.special ? 3 : 4 }
        func id(_ name: String?) -> Int? { name.flatMap { tok.id(ofToken: $0) } }
        if tok.pipeline.isByteLevel {
            guard case .byteLevel(let splits, _) = tok.pipeline.preTokenizer else { return m }
            let pre: String
            switch splits {
            case [.gpt2]: pre = "gpt-2"
            // llama.cpp looks pieces up whole under llama-bpe, not under smaug-bpe (same split).
            case [.llama3(maxDigits: 3)]: pre = tok.pipeline.ignoreMerges ? "llama-bpe" : "smaug-bpe"
            case [.llama3(maxDigits: 1)]: pre = "qwen2"
            case [.llama3(maxDigits: 1, marks: true)]: pre = "qwen35"
            case [.llama3(maxDigits: 1, symbolNewlines: false)]: pre = "seed-coder"
            case [.llama3(maxDigits: 1, contractions: false)]: pre = "ufakzeka"
            case TokenizerPipeline.ggufPreTokenizers["falcon"]: pre = "falcon"
            case TokenizerPipeline.ggufPreTokenizers["deepseek-llm"]: pre = "deepseek-llm"
            case TokenizerPipeline.ggufPreTokenizers["deepseek-coder"]: pre = "deepseek-coder"
            case TokenizerPipeline.ggufPreTokenizers["deepseek-v3"]: pre = "deepseek-v3"
            case TokenizerPipeline.ggufPreTokenizers["tekken"]: pre = "tekken"
            case TokenizerPipeline.ggufPreTokenizers["gpt-4o"]: pre = "gpt-4o"
            case [.digits(individual: true), .gpt2]: pre = "smollm"
            default: throw GGUFConversionError.unsupported(file: source, reason: "llama.cpp names no pre-tokenizer for this tokenizer's splits")
            }
            m.append((GGUFKey.Tokenizer.model.key, .string("gpt2")))
            m.append((GGUFKey.Tokenizer.pre.key, .string(pre)))
            // Added tokens are written in the vocabulary's byte-level spelling too.
            m.append((GGUFKey.Tokenizer.tokens.key, .strings(tok.tokens + padding)))
            m.append((GGUFKey.Tokenizer.tokenType.key, .i32s(types)))
            let ranked = tok.merges.sorted { $0.value.rank < $1.value.rank }
            m.append((GGUFKey.Tokenizer.merges.key, .strings(ranked.map { tok.tokens[Int($0.key >> 32)] + " " + tok.tokens[Int($0.key & 0xFFFF_FFFF)] })))
        } else {
            for (i, t) in tok.tokens.enumerated() where BPETokenizer.fallbackByte(t) != nil { types[i] = 6 }
            if let unk = tok.pipeline.unknownToken, let u = tok.id(ofToken: unk) { types[u] = 2 }
            m.append((GGUFKey.Tokenizer.model.key, .string("llama")))
            m.append((GGUFKey.Tokenizer.pre.key, .string("default")))
            m.append((GGUFKey.Tokenizer.tokens.key, .strings(tok.tokens.enumerated().map { i, t in tok.addedToken(id: i)?.content ?? t } + padding)))
            // SentencePiece ranks merges by score: the vocabulary's order, as BPE trainers build it.
            m.append((GGUFKey.Tokenizer.scores.key, .f32s((0..<(tok.vocabularySize + padding.count)).map { -Float($0) })))
            m.append((GGUFKey.Tokenizer.tokenType.key, .i32s(types)))
            if let unk = tok.pipeline.unknownToken, let u = tok.id(ofToken: unk) { m.append((GGUFKey.Tokenizer.unknownTokenID.key, .u32(UInt32(u)))) }
            // llama.cpp puts a space before the text unless told not to (Gemma's vocabularies).
            if !tok.pipeline.normalizer.contains(.prepend("▁")) { m.append((GGUFKey.Tokenizer.addSpacePrefix.key, .bool(false))) }
        }
        if let bos = id(chat.bosToken) ?? tok.prefixIDs.first ?? c.bosTokenID { m.append((GGUFKey.Tokenizer.bosTokenID.key, .u32(UInt32(bos)))) }
        if let eos = id(chat.eosToken) ?? c.eosTokenIDs.first { m.append((GGUFKey.Tokenizer.eosTokenID.key, .u32(UInt32(eos)))) }
        if let pad = c.padTokenID { m.append((GGUFKey.Tokenizer.paddingTokenID.key, .u32(UInt32(pad)))) }
        m.append((GGUFKey.Tokenizer.addBOSToken.key, .bool(!tok.prefixIDs.isEmpty)))
        m.append((GGUFKey.Tokenizer.addEOSToken.key, .bool(!tok.suffixIDs.isEmpty)))
        if let template = chat.chatTemplate { m.append((GGUFKey.chatTemplate, .string(template))) }
        return m
    }
}
