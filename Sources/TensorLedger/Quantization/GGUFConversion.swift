// `convert MODEL OUT.gguf`: a safetensors checkpoint to a GGUF file llama.cpp runs, for
// the gpt2, llama and qwen2 architectures, with the metadata keys, tensor names and
// tokenizer keys llama.cpp's own converter writes, and its quirks: GPT-2's Conv1D
// matrices as rows and its tied head written again as output.weight; the llama
// architecture's Q and K rows permuted for ggml's RoPE. Matrices go to Q8_0 (ggml's own
// rounding), F16, BF16 or F32 as the same per-tensor decision as for .tlm files says;
// norms and biases stay F32. The header is written first (every size is known), then the
// tensors stream one at a time into a file that appears only when complete.

import CKernels

public enum GGUFConversionError: TensorLedgerError, Equatable {
    case unsupported(file: String, reason: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .unsupported(let f, let r): return "\(f): cannot write it as GGUF: \(r)"
        }
    }
}

extension Converter {
    /// The GGUF type of a tensor stored in `scheme`.
    static func ggmlType(_ scheme: WeightScheme) -> GGMLType? {
        switch scheme {
        case .q8: return .q8_0
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        case .q8Row: return nil
        }
    }

    public static func convertToGGUF(input: String, output: String, options: ConversionOptions, dryRun: Bool = false,
                                     progress: ((Int, Int) -> Void)? = nil) throws -> ConversionReport {
        let start = monotonicSeconds()
        guard ggmlType(options.scheme) != nil else {
            throw GGUFConversionError.unsupported(file: input, reason: "GGUF has no q8-row type; use --weights q8, f16, bf16 or f32")
        }
        let checkpoint = try Checkpoint.openForConversion(input)
        checkpoint.shards.forEach { $0.adviseSequential() }
        guard let configPath = checkpoint.sidecar("config.json") else { throw ModelLoadError.noConfig(source: checkpoint.path) }
        let config = try ModelConfig.load(configPath)
        let arch: GGUFArchitecture
        switch config.family {
        case .gpt2: arch = .gpt2
        case .llama: arch = config.modelType == "qwen2" ? .qwen2 : .llama
        default: throw GGUFConversionError.unsupported(file: input, reason: "\(config.family.displayName) models have no GGUF architecture here (gpt2, llama, qwen2)")
        }
        let tokenizerPath = checkpoint.sidecar("tokenizer.json")
        let tokenizer = try tokenizerPath.map { try BPETokenizer.load($0) }
        let chat = try TokenizerConfig.load(forModel: input)
        var (items, dropped) = try plan(checkpoint, config: config, options: options)
        // Where each tensor goes: its GGUF name, and whether its rows must be permuted.
        let hfToGGUF = Dictionary(arch.names.map { ($0.hf, $0.gguf) }, uniquingKeysWith: { a, _ in a })
        func ggufName(_ hf: String) throws -> String {
            var generic = hf, layer: String?
            if let l = TensorClassifier.layerIndex(of: hf) {
                layer = String(l)
                generic = hf.replacing(arch == .gpt2 ? "h.\(l)." : "layers.\(l).", with: arch == .gpt2 ? "h.{n}." : "layers.{n}.")
            }
            guard let g = hfToGGUF[generic] else { throw GGUFConversionError.unsupported(file: input, reason: "no GGUF name for tensor \"\(hf)\"") }
            return layer.map { g.replacing("{n}", with: $0) } ?? g
        }
        var plans: [GGUFTensorPlan] = []
        for item in items {
            // GGUF shapes are the stored rows: ggml's order reverses them.
            plans.append(GGUFTensorPlan(name: try ggufName(item.source.name), dimensions: item.shape.reversed(), type: ggmlType(item.scheme)!))
        }
        // llama.cpp writes GPT-2's tied head again; the llama architecture reads token_embd when output is absent.
        let embedding = items.firstIndex { $0.category == .embedding }
        let repeatHead = arch == .gpt2 && !items.contains { $0.category == .unembedding } && embedding != nil
        if repeatHead, let e = embedding {
            plans.append(GGUFTensorPlan(name: "output.weight", dimensions: plans[e].dimensions, type: plans[e].type))
            items.append(items[e])
        }
        // Llama 3's rope scaling, as llama.cpp writes it: divisors of the inverse frequencies.
        var extra: [(plan: GGUFTensorPlan, values: [Float])] = []
        if let s = config.ropeScaling, s.type == "llama3" {
            let plain = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, scaling: nil)
            let scaled = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, scaling: s)
            extra.append((GGUFTensorPlan(name: GGUFArchitecture.ropeDivisors, dimensions: [config.headDim / 2], type: .f32),
                          zip(plain.inverseFrequencies, scaled.inverseFrequencies).map { Float($0 / $1) }))
        }
        plans = extra.map(\.plan) + plans
        var metadata = try ggufMetadata(config: config, arch: arch, name: lastPathComponent(checkpoint.directory), scheme: options.scheme,
                                        tokenizer: tokenizer, chat: chat, source: input)
        metadata.sort { $0.0.hasPrefix("general.") && !$1.0.hasPrefix("general.") }
        var warnings = checkpoint.warnings
        if tokenizer == nil { warnings.append("no tokenizer.json beside the weights: the GGUF file carries no tokenizer, and llama.cpp will not load it") }
        let header = GGUFWriter.header(metadata: metadata, tensors: &plans)
        let inputBytes = items.prefix(items.count - (repeatHead ? 1 : 0)).reduce(0) { $0 + $1.source.info.byteCount }
        let total = header.count + (plans.last.map { $0.offset + $0.byteCount } ?? 0)
        let itemPlans = Array(plans.dropFirst(extra.count))
        for i in items.indices { items[i].storedBytes = itemPlans[i].byteCount; items[i].rawBytes = itemPlans[i].byteCount }
        if dryRun {
            return ConversionReport(input: checkpoint.path, output: output, scheme: options.scheme, items: items, droppedBuffers: dropped,
                                    warnings: warnings, inputBytes: inputBytes, outputBytes: total, seconds: monotonicSeconds() - start, dryRun: true)
        }

        let writer = try AtomicFileWriter(path: output, overwrite: options.overwrite,
                                          protecting: checkpoint.shards.map(\.path) + [configPath, tokenizerPath].compactMap { $0 })
        do {
            try writer.write(header)
            for e in extra {
                try writer.pad(toMultipleOf: GGUFWriter.alignment)
                try e.values.withUnsafeBytes { try writer.write($0) }
            }
            var done = 0
            for (i, item) in items.enumerated() {
                let plan = itemPlans[i]
                let rows = item.shape.count == 2 ? item.shape[0] : 1, cols = item.shape.last ?? 1
                let n = rows * cols
                let raw = checkpoint.data(for: item.source)
                let heads = arch == .llama ? permutedHeads(item.source.name, config: config) : nil
                // An f32 tensor that stays in its layout is read straight from the mapping, a band
                // of rows (about 4 MiB) at a time, each band's pages dropped once it is written.
                let streamed = item.source.info.dtype == .float32 && !item.transposed && heads == nil
                    && Int(bitPattern: raw.baseAddress) % MemoryLayout<Float>.alignment == 0
                let band = streamed ? max(1, (4 << 20) / max(cols * 4, 1)) : rows
                let outBytes = min(rows, band) * (plan.byteCount / max(rows, 1))
                guard let out = TensorBytes(capacity: outBytes) else {
                    throw FileError.writeFailed(path: output, reason: "cannot allocate \(outBytes) bytes for \"\(item.source.name)\"")
                }
                try writer.pad(toMultipleOf: GGUFWriter.alignment)
                if streamed, let base = raw.baseAddress {
                    for start in stride(from: 0, to: rows, by: band) {
                        let count = min(band, rows - start)
                        let values = UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self) + start * cols, count: count * cols)
                        let bytes = values.count / plan.type.blockLayout.size * plan.type.blockLayout.bytes
                        let chunk = UnsafeMutableRawBufferPointer(rebasing: out.mutableBytes[0..<bytes])
                        try encode(values, rows: count, type: plan.type, into: chunk, tensor: item.source.name, threads: options.threads)
                        try writer.write(UnsafeRawBufferPointer(chunk))
                        checkpoint.releasePages(of: item.source, bytes: (start * cols * 4)..<((start + count) * cols * 4))
                    }
                } else {
                    guard let w = TensorValues(count: n) else {
                        throw FileError.writeFailed(path: output, reason: "cannot allocate \(4 * n) bytes for \"\(item.source.name)\"")
                    }
                    if item.transposed {
                        try TensorEncoder.transposeToFloat(raw, dtype: item.source.info.dtype, inRows: cols, inCols: rows, into: w.mutable.baseAddress!,
                                                           threads: options.threads, tensor: item.source.name)
                    } else {
                        try convertToFloat(raw, dtype: item.source.info.dtype, into: w.mutable, tensor: item.source.name)
                    }
                    if let heads { permuteRows(w.mutable.baseAddress!, rows: rows, cols: cols, heads: heads) }
                    try encode(w.values, rows: rows, type: plan.type, into: out.mutableBytes, tensor: item.source.name, threads: options.threads)
                    try writer.write(out.bytes)
                }
                checkpoint.releasePages(of: item.source)
                if i < items.count - (repeatHead ? 1 : 0) { done += item.source.info.byteCount }
                progress?(done, inputBytes)
            }
            let size = writer.offset
            try writer.commit()
            return ConversionReport(input: checkpoint.path, output: output, scheme: options.scheme, items: items, droppedBuffers: dropped,
                                    warnings: warnings, inputBytes: inputBytes, outputBytes: size, seconds: monotonicSeconds() - start, dryRun: false)
        } catch {
            writer.abandon()
            throw error
        }
    }

    static func permutedHeads(_ name: String, config: ModelConfig) -> Int? {
        if name.hasSuffix("self_attn.q_proj.weight") { return config.heads }
        if name.hasSuffix("self_attn.k_proj.weight") { return config.kvHeads }
        return nil
    }

    /// llama.cpp's permutation: within each head, rows (i, i + half) become (2i, 2i + 1).
    static func permuteRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, heads: Int) {
        let copy = Array(UnsafeBufferPointer(start: x, count: rows * cols))
        let dh = rows / heads, half = dh / 2
        for h in 0..<heads {
            for s in 0..<2 {
                for j in 0..<half {
                    let from = h * dh + s * half + j, to = h * dh + 2 * j + s
                    (x + to * cols).update(from: copy.withUnsafeBufferPointer { $0.baseAddress! + from * cols }, count: cols)
                }
            }
        }
    }

    /// Encodes `rows` rows of `x` in `type`, the rows split across threads.
    static func encode(_ x: UnsafeBufferPointer<Float>, rows: Int, type: GGMLType, into out: UnsafeMutableRawBufferPointer, tensor: String,
                       threads: Int) throws {
        switch type {
        case .q8_0:
            let cols = x.count / max(rows, 1)
            let firstBad = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(threads, 1))
            defer { firstBad.deallocate() }
            firstBad.initialize(repeating: -1)
            parallelRows(rows, threads: threads) { thread, range in
                let bad = tl_quantize_q8_0_ggml(x.baseAddress! + range.lowerBound * cols, range.count * cols,
                                                out.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound * cols / 32 * 34)
                if bad >= 0 { firstBad[thread] = range.lowerBound * cols + bad }
            }
            if let bad = firstBad.filter({ $0 >= 0 }).min() { throw QuantizationError.nonFinite(tensor: tensor, index: bad) }
        case .f16: for (i, v) in x.enumerated() { out.storeBytes(of: halfBitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16: for (i, v) in x.enumerated() { out.storeBytes(of: bfloat16BitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        default: out.copyMemory(from: UnsafeRawBufferPointer(x))
        }
    }

    /// The keys llama.cpp's converter writes for these architectures and their tokenizers.
    static func ggufMetadata(config c: ModelConfig, arch: GGUFArchitecture, name: String, scheme: WeightScheme,
                             tokenizer: BPETokenizer?, chat: TokenizerConfig, source: String) throws -> [(String, GGUFMetadata)] {
        let a = arch.rawValue
        var m: [(String, GGUFMetadata)] = [
            ("general.architecture", .string(a)),
            ("general.name", .string(name)),
            ("general.file_type", .u32(scheme == .q8 ? 7 : (scheme == .f16 ? 1 : (scheme == .bf16 ? 32 : 0)))),
            ("\(a).context_length", .u32(UInt32(c.contextLength))),
            ("\(a).embedding_length", .u32(UInt32(c.hiddenSize))),
            ("\(a).block_count", .u32(UInt32(c.layers))),
            ("\(a).feed_forward_length", .u32(UInt32(c.intermediateSize))),
            ("\(a).attention.head_count", .u32(UInt32(c.heads))),
        ]
        if scheme == .q8 { m.append(("general.quantization_version", .u32(2))) }
        if arch == .gpt2 {
            m.append(("\(a).attention.layer_norm_epsilon", .f32(Float(c.layerNormEpsilon))))
        } else {
            m.append(("\(a).attention.head_count_kv", .u32(UInt32(c.kvHeads))))
            m.append(("\(a).attention.layer_norm_rms_epsilon", .f32(Float(c.layerNormEpsilon))))
            m.append(("\(a).rope.freq_base", .f32(Float(c.ropeTheta))))
            if c.headDim != c.hiddenSize / c.heads { m.append(("\(a).attention.key_length", .u32(UInt32(c.headDim)))) }
            if let s = c.ropeScaling, s.type != "llama3" {  // llama3's is the rope_freqs tensor
                guard s.type == "linear" else {
                    throw GGUFConversionError.unsupported(file: source, reason: "rope scaling \(s.type) is not written to GGUF yet")
                }
                m.append(("\(a).rope.scaling.type", .string("linear")))
                m.append(("\(a).rope.scaling.factor", .f32(Float(s.factor))))
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
            case [.llama3(maxDigits: 3)]: pre = "llama-bpe"
            case [.llama3(maxDigits: 1)]: pre = "qwen2"
            case [.digits(individual: true), .gpt2]: pre = "smollm"
            default: throw GGUFConversionError.unsupported(file: source, reason: "llama.cpp names no pre-tokenizer for this tokenizer's splits")
            }
            m.append(("tokenizer.ggml.model", .string("gpt2")))
            m.append(("tokenizer.ggml.pre", .string(pre)))
            // Added tokens are written in the vocabulary's byte-level spelling too.
            m.append(("tokenizer.ggml.tokens", .strings(tok.tokens + padding)))
            m.append(("tokenizer.ggml.token_type", .i32s(types)))
            let ranked = tok.merges.sorted { $0.value.rank < $1.value.rank }
            m.append(("tokenizer.ggml.merges", .strings(ranked.map { tok.tokens[Int($0.key >> 32)] + " " + tok.tokens[Int($0.key & 0xFFFF_FFFF)] })))
        } else {
            for (i, t) in tok.tokens.enumerated() where BPETokenizer.fallbackByte(t) != nil { types[i] = 6 }
            if let unk = tok.pipeline.unknownToken, let u = tok.id(ofToken: unk) { types[u] = 2 }
            m.append(("tokenizer.ggml.model", .string("llama")))
            m.append(("tokenizer.ggml.pre", .string("default")))
            m.append(("tokenizer.ggml.tokens", .strings(tok.tokens.enumerated().map { i, t in tok.addedTokens.first { $0.id == i }?.content ?? t } + padding)))
            // SentencePiece ranks merges by score: the vocabulary's order, as BPE trainers build it.
            m.append(("tokenizer.ggml.scores", .f32s((0..<(tok.vocabularySize + padding.count)).map { -Float($0) })))
            m.append(("tokenizer.ggml.token_type", .i32s(types)))
            if let unk = tok.pipeline.unknownToken, let u = tok.id(ofToken: unk) { m.append(("tokenizer.ggml.unknown_token_id", .u32(UInt32(u)))) }
        }
        if let bos = id(chat.bosToken) ?? tok.prefixIDs.first ?? c.bosTokenID { m.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(bos)))) }
        if let eos = id(chat.eosToken) ?? c.eosTokenIDs.first { m.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(eos)))) }
        m.append(("tokenizer.ggml.add_bos_token", .bool(!tok.prefixIDs.isEmpty)))
        if let template = chat.chatTemplate { m.append(("tokenizer.chat_template", .string(template))) }
        return m
    }
}
