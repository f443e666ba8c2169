// GPT-2: the weights and the forward pass, read top to bottom as the data flows:
// tokens → embeddings (+ positions) → blocks (LayerNorm, attention, LayerNorm, MLP,
// each added back to the residual stream) → final LayerNorm → logits.
//
// The shared steps (products, norms, attention over the cache) are ComputeBackend's (CPUBackend.swift).
//
// One `forward` serves both prompt processing (T tokens through each matrix at once,
// every weight row read once for all of them) and decoding (T = 1). Keys and values are
// cached per layer, head and position, so each new token attends without recomputation.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class GPT2Model: LanguageModel, @unchecked Sendable {
    package struct Block {
        package var ln1Weight: [Float], ln1Bias: [Float]  // (d)
        package var qkv: WeightMatrix                     // (3·d, d): Query, Key, Value stacked
        package var qkvBias: [Float]                      // (3·d)
        package var proj: WeightMatrix                    // (d, d): attention Output
        package var projBias: [Float]                     // (d)
        package var ln2Weight: [Float], ln2Bias: [Float]  // (d)
        package var up: WeightMatrix                      // (ff, d): c_fc
        package var upBias: [Float]                       // (ff)
        package var down: WeightMatrix                    // (d, ff): mlp c_proj
        package var downBias: [Float]                     // (d)
    }

    public let config: ModelConfig
    public let tokenizer: BPETokenizer
    public let chat: TokenizerConfig
    public let source: String
    public let notes: [String]
    /// How its states keep keys and values.
    public let cache: KVCacheType
    package let tokenEmbedding: WeightMatrix              // (vocab, d): wte, also the tied unembedding
    package let positionEmbedding: WeightMatrix           // (n_ctx, d): wpe
    package let blocks: [Block]
    package let lnFWeight: [Float], lnFBias: [Float]      // (d)
    package let unembedding: WeightMatrix                 // (vocab, d): lm_head, or wte when tied
    package let ops: any ComputeBackend

    public var threads: Int { ops.threads }
    public var contextLength: Int { config.contextLength }
    public var weightFormat: String { Self.formatSummary(blocks.flatMap { [$0.qkv, $0.proj, $0.up, $0.down] } + [unembedding]) }
    public var weightBytesPerToken: Int {
        blocks.reduce(0) { $0 + $1.qkv.byteCount + $1.proj.byteCount + $1.up.byteCount + $1.down.byteCount } + unembedding.byteCount
    }

    /// GPT-2's checkpoint quirks, all here: tensor names with or without the
    /// "transformer." prefix, Conv1D matrices stored [in, out], Query·Key·Value fused in
    /// c_attn, the unembedding tied to wte unless lm_head.weight is present.
    package init(source: some WeightSource, config: ModelConfig, tokenizer: BPETokenizer, chat: TokenizerConfig = TokenizerConfig(),
                 threads: Int, kernels: KernelISA = .detected, cache: KVCacheType = .f16) throws {
        // Heads split the width evenly, or part of every attention output would go unwritten.
        guard config.hiddenSize % config.heads == 0 else {
            throw ModelLoadError.headsDoNotDivideWidth(source: source.sourceName, width: config.hiddenSize, heads: config.heads)
        }
        guard config.activation.hasPrefix("gelu") else {
            throw ModelLoadError.unsupportedSetting(source: source.sourceName, field: "activation_function", value: config.activation)
        }
        self.config = config
        self.source = source.sourceName
        self.tokenizer = tokenizer
        self.chat = chat
        self.cache = cache
        ops = CPUBackend(threads: threads, kernels: kernels)
        let d = config.hiddenSize, ff = config.intermediateSize, v = config.vocabSize
        let p = source.has("transformer.wte.weight") || !source.has("wte.weight") ? "transformer." : ""
        tokenEmbedding = try source.matrix(p + "wte.weight", rows: v, cols: d, conv1D: false)
        positionEmbedding = try source.matrix(p + "wpe.weight", rows: config.contextLength, cols: d, conv1D: false)
        blocks = try (0..<config.layers).map { l in
            let b = "\(p)h.\(l)."
            return Block(
                ln1Weight: try source.vector(b + "ln_1.weight", count: d), ln1Bias: try source.vector(b + "ln_1.bias", count: d),
                qkv: try source.matrix(b + "attn.c_attn.weight", rows: 3 * d, cols: d, conv1D: true),
                qkvBias: try source.vector(b + "attn.c_attn.bias", count: 3 * d),
                proj: try source.matrix(b + "attn.c_proj.weight", rows: d, cols: d, conv1D: true),
                projBias: try source.vector(b + "attn.c_proj.bias", count: d),
                ln2Weight: try source.vector(b + "ln_2.weight", count: d), ln2Bias: try source.vector(b + "ln_2.bias", count: d),
                up: try source.matrix(b + "mlp.c_fc.weight", rows: ff, cols: d, conv1D: true),
                upBias: try source.vector(b + "mlp.c_fc.bias", count: ff),
                down: try source.matrix(b + "mlp.c_proj.weight", rows: d, cols: ff, conv1D: true),
                downBias: try source.vector(b + "mlp.c_proj.bias", count: d))
        }
        lnFWeight = try source.vector(p + "ln_f.weight", count: d)
        lnFBias = try source.vector(p + "ln_f.bias", count: d)
        let (head, headNote) = try source.unembedding(config, embedding: tokenEmbedding)
        unembedding = head
        notes = headNote.map { [$0] } ?? []
    }

    // MARK: The forward pass

    public func forward(_ tokens: [Int], state: InferenceState, allLogits: Bool, observer: ForwardObserver?) throws {
        try prepareForward(tokens, state: state, allLogits: allLogits, ops: ops) { try compute(tokens, state: state, allLogits: allLogits, observer: observer) }
    }

    public var kernels: KernelISA { ops.kernels }

    private func compute(_ tokens: [Int], state: InferenceState, allLogits: Bool, observer: ForwardObserver?) throws {
        let T = tokens.count
        let d = config.hiddenSize, epsilon = Float(config.layerNormEpsilon)
        let x = state.residual, normed = state.normed

        // Token and position embeddings.
        for t in 0..<T {
            tokenEmbedding.row(tokens[t], into: x + t * d)
            positionEmbedding.row(state.position + t, into: state.scratch)
            for i in 0..<d { x[t * d + i] += state.scratch[i] }
        }
        observer?.embedded(tokens: tokens, x: x, d: d)

        for (l, block) in blocks.enumerated() {
            // Attention: LayerNorm, Query/Key/Value (one fused product), causal softmax over
            // the cache, Output added back to the residual stream.
            ops.layerNorm(x, T, d, block.ln1Weight, block.ln1Bias, epsilon: epsilon, into: normed)
            ops.multiply(block.qkv, normed, T, block.qkvBias, into: state.qkv, state: state)
            ops.attend(layer: l, T: T, .init(queries: state.qkv, queryStride: 3 * d, keys: state.qkv + d, keyStride: 3 * d,
                                             values: state.qkv + 2 * d, valueStride: 3 * d), state: state)
            ops.multiply(block.proj, state.attention, T, block.projBias, into: state.projected, state: state, then: .addTo(x))
            observer?.attended(layer: l, x: x, T: T, d: d, delta: state.projected)

            // MLP: LayerNorm, Up-projection, GELU, Down-projection added back.
            ops.layerNorm(x, T, d, block.ln2Weight, block.ln2Bias, epsilon: epsilon, into: normed)
            ops.multiply(block.up, normed, T, block.upBias, into: state.hidden, state: state, then: .gelu)
            ops.multiply(block.down, state.hidden, T, block.downBias, into: state.projected, state: state, then: .addTo(x))
            observer?.mlp(layer: l, x: x, T: T, d: d, delta: state.projected)
        }

        // Final LayerNorm and the unembedding: logits for the last token, or all of them.
        let first = allLogits ? 0 : T - 1
        ops.layerNorm(x + first * d, T - first, d, lnFWeight, lnFBias, epsilon: epsilon, into: normed)
        ops.multiply(unembedding, normed, T - first, nil, into: state.logits, state: state)
        state.position += T
        state.logitRows = T - first
        observer?.finished(x: normed + (T - first - 1) * d, d: d)
    }

    public func describe(_ stage: ForwardStage) -> [TraceStep] {
        let d = config.hiddenSize, ff = config.intermediateSize, v = config.vocabSize
        switch stage {
        case .embedding: return [.lookup(rows: v, width: d), .positionEmbedding]
        case .attention: return [.norm("LayerNorm"), .matrix("query+key+value", in: d, out: 3 * d), .attention(heads: config.heads, kvHeads: config.heads),
                                 .matrix("output", in: d, out: d)]
        case .mlp: return [.norm("LayerNorm"), .matrix("up", in: d, out: ff), .activation("GELU"), .matrix("down", in: ff, out: d)]
        case .finalNorm: return [.norm("LayerNorm")]
        case .unembedding: return [.matrix("unembedding", in: d, out: v)]
        }
    }
}
