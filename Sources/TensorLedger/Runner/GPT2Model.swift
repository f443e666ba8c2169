// GPT-2: the weights and the forward pass, read top to bottom as the data flows:
// tokens → embeddings (+ positions) → blocks (LayerNorm, attention, LayerNorm, MLP,
// each added back to the residual stream) → final LayerNorm → logits.
//
// One `forward` serves both prompt processing (T tokens through each matrix at once,
// every weight row read once for all of them) and decoding (T = 1). Keys and values are
// cached per layer, head and position, so each new token attends without recomputation.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

public final class GPT2Model: @unchecked Sendable {
    struct Block {
        var ln1Weight: [Float], ln1Bias: [Float]  // (d)
        var qkv: WeightMatrix                     // (3·d, d): Query, Key, Value stacked
        var qkvBias: [Float]                      // (3·d)
        var proj: WeightMatrix                    // (d, d): attention Output
        var projBias: [Float]                     // (d)
        var ln2Weight: [Float], ln2Bias: [Float]  // (d)
        var up: WeightMatrix                      // (ff, d): c_fc
        var upBias: [Float]                       // (ff)
        var down: WeightMatrix                    // (d, ff): mlp c_proj
        var downBias: [Float]                     // (d)
    }

    public let config: ModelConfig
    public let tokenizer: BPETokenizer
    public let source: String
    let tokenEmbedding: WeightMatrix              // (vocab, d): wte, also the tied unembedding
    let positionEmbedding: WeightMatrix           // (n_ctx, d): wpe
    let blocks: [Block]
    let lnFWeight: [Float], lnFBias: [Float]      // (d)
    let unembedding: WeightMatrix                 // (vocab, d): lm_head, or wte when tied
    public let threads: Int
    let pool: WorkerPool

    public var contextLength: Int { config.contextLength }
    public var vocabularySize: Int { config.vocabSize }
    /// The scheme of the big matrices (for reports).
    public var weightScheme: WeightScheme { blocks.first?.up.scheme ?? tokenEmbedding.scheme }

    /// Bytes of weights one decoded token reads: every block matrix, the unembedding, and
    /// one row each of the embeddings. What bounds decoding speed.
    public var weightBytesPerToken: Int {
        blocks.reduce(0) { $0 + $1.qkv.byteCount + $1.proj.byteCount + $1.up.byteCount + $1.down.byteCount } + unembedding.byteCount
    }

    /// Loads a .tlm file, or a safetensors checkpoint (file, index or directory).
    public static func load(_ path: String, threads: Int = 2) throws -> GPT2Model {
        if ModelSource.isTLM(path) {
            let file = try TLMFile(path: path)
            // Every checksum and every padding byte, before any weight is used.
            try file.verify(threads: threads)
            return try GPT2Model(source: TLMWeights(file: file), threads: threads)
        }
        let checkpoint = try Checkpoint.open(path)
        let config = try checkpoint.sidecar("config.json").map { try ModelConfig.load($0) }
        return try GPT2Model(source: CheckpointWeights(checkpoint: checkpoint, config: config), threads: threads)
    }

    init(source: some WeightSource, threads: Int) throws {
        guard let config = source.config else { throw ModelLoadError.noConfig(source: source.sourceName) }
        guard config.family == .gpt2 else { throw ModelLoadError.unsupportedArchitecture(source: source.sourceName, family: config.family.displayName) }
        // Heads split the width evenly, or part of every attention output would go unwritten.
        guard config.hiddenSize % config.heads == 0 else {
            throw ModelLoadError.headsDoNotDivideWidth(source: source.sourceName, width: config.hiddenSize, heads: config.heads)
        }
        self.config = config
        self.source = source.sourceName
        self.threads = max(1, threads)
        pool = WorkerPool(threads: self.threads)
        tokenizer = try source.tokenizer()
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
        unembedding = source.has("lm_head.weight") ? try source.matrix("lm_head.weight", rows: v, cols: d, conv1D: false) : tokenEmbedding
        guard tokenizer.vocabularySize <= v else {
            throw TokenizerError.invalid(source: source.sourceName, reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(v)")
        }
    }

    public func makeState() -> InferenceState { InferenceState(model: self) }

    // MARK: The forward pass

    /// Runs `tokens` at positions state.position..., appends them to the cache, and writes
    /// the logits of the last token (or of every token, with `allLogits`) into state.logits.
    public func forward(_ tokens: [Int], state s: InferenceState, allLogits: Bool = false, observer: ForwardObserver? = nil) throws {
        let T = tokens.count
        guard T > 0 else { return }
        guard s.position + T <= contextLength else {
            throw GenerationError.contextFull(contextLength: contextLength, needed: s.position + T)
        }
        for t in tokens where t < 0 || t >= vocabularySize { throw TokenizerError.unknownTokenID(t, vocabularySize: vocabularySize) }
        s.reserve(tokens: T, allLogits: allLogits)
        let d = config.hiddenSize
        let x = s.residual, h = s.normed

        // Token and position embeddings.
        for t in 0..<T {
            tokenEmbedding.row(tokens[t], into: x + t * d)
            positionEmbedding.row(s.position + t, into: s.scratch)
            for i in 0..<d { x[t * d + i] += s.scratch[i] }
        }
        observer?.embedded(tokens: tokens, x: x, d: d)

        for (l, block) in blocks.enumerated() {
            // Attention: LayerNorm, Query/Key/Value, causal softmax over the cache, Output
            // added back to the residual stream.
            layerNorm(x, T, block.ln1Weight, block.ln1Bias, into: h)
            multiply(block.qkv, h, T, block.qkvBias, into: s.qkv, state: s)
            attend(layer: l, T: T, state: s)
            multiply(block.proj, s.attention, T, block.projBias, into: s.projected, state: s, then: .addTo(x))
            observer?.attended(layer: l, x: x, T: T, d: d, delta: s.projected)

            // MLP: LayerNorm, Up-projection, GELU, Down-projection added back.
            layerNorm(x, T, block.ln2Weight, block.ln2Bias, into: h)
            multiply(block.up, h, T, block.upBias, into: s.hidden, state: s, then: .gelu)
            multiply(block.down, s.hidden, T, block.downBias, into: s.projected, state: s, then: .addTo(x))
            observer?.mlp(layer: l, x: x, T: T, d: d, delta: s.projected)
        }

        // Final LayerNorm and the unembedding: logits for the last token, or all of them.
        let first = allLogits ? 0 : T - 1
        layerNorm(x + first * d, T - first, lnFWeight, lnFBias, into: h)
        multiply(unembedding, h, T - first, nil, into: s.logits, state: s)
        s.position += T
        s.logitRows = T - first
        observer?.finished(x: h + (T - first - 1) * d, d: d)
    }

    // MARK: Steps

    /// What a matrix product does with its rows once they are computed (while they are
    /// still in cache, and on the thread that computed them).
    enum Epilogue {
        case none
        case gelu
        /// Adds y into this (T, rows) buffer: the residual stream.
        case addTo(UnsafeMutablePointer<Float>)
    }

    /// y[t] = W · x[t] + bias for T inputs, then the epilogue: each weight row is read once
    /// for all of them; rows are split across threads, one hand-off per matrix.
    func multiply(_ w: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ T: Int, _ bias: [Float]?,
                  into y: UnsafeMutablePointer<Float>, state s: InferenceState, then epilogue: Epilogue = .none) {
        let rows = w.rows, cols = w.cols
        let xq = w.needsQuantizedInput ? s.quantized : nil
        if let xq { forEachTokenRange(T) { xq.set(x, tokens: $0, count: cols) } }
        let body = { (range: Range<Int>) in
            if T == 1 {
                w.dotRows(range, x: x, xq: xq, out: y)
            } else {
                w.multiplyRows(range, x: x, tokens: T, xq: xq, out: y)
            }
            for t in 0..<T {
                let yt = y + t * rows
                if let bias { for r in range { yt[r] += bias[r] } }
                switch epilogue {
                case .none: break
                case .gelu: tl_gelu(yt + range.lowerBound, range.count)
                case .addTo(let sum): for r in range { sum[t * rows + r] += yt[r] }
                }
            }
        }
        if rows * cols * T < 1 << 17 || threads == 1 {
            body(0..<rows)
        } else {
            // A few large chunks, cut at multiples of 32 rows: whole tiles of the GEMM kernel,
            // and no two chunks share a cache line of output.
            let chunks = 4 * pool.threads
            pool.run(chunks: chunks) { c in
                body((rows * c / chunks / 32 * 32)..<(c == chunks - 1 ? rows : rows * (c + 1) / chunks / 32 * 32))
            }
        }
    }

    /// LayerNorm of T rows of the residual stream.
    func layerNorm(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ weight: [Float], _ bias: [Float], into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize, epsilon = Float(config.layerNormEpsilon)
        forEachTokenRange(T) { tokens in
            for t in tokens { layerNormRow(x + t * d, d, weight, bias, into: out + t * d, epsilon: epsilon) }
        }
    }

    /// Work done per token (LayerNorm, quantizing activations) is split by tokens across the
    /// threads when a batch is large enough to pay for the hand-off.
    private func forEachTokenRange(_ T: Int, _ body: (Range<Int>) -> Void) {
        guard threads > 1, T >= 16 else { return body(0..<T) }
        let chunks = pool.threads
        pool.run(chunks: chunks) { c in body((T * c / chunks)..<(T * (c + 1) / chunks)) }
    }

    /// Causal multi-head attention for the T new tokens, using and filling the KV cache.
    /// Heads are independent: a prompt's heads are spread over the threads.
    func attend(layer: Int, T: Int, state s: InferenceState) {
        let d = config.hiddenSize, heads = config.heads, dh = d / heads
        // The cache is (layers, heads, n_ctx, dh): a head's keys are one dense run, read front to back.
        let keys = s.keys + layer * contextLength * d, values = s.values + layer * contextLength * d
        for t in 0..<T {
            let row = s.qkv + t * 3 * d, slot = (s.position + t) * dh
            for hd in 0..<heads {
                (keys + hd * contextLength * dh + slot).update(from: row + d + hd * dh, count: dh)
                (values + hd * contextLength * dh + slot).update(from: row + 2 * d + hd * dh, count: dh)
            }
        }
        let work = T * (s.position + T) * d
        if threads > 1 && work >= 1 << 17 {
            pool.run(chunks: heads) { attendHead($0, keys: keys, values: values, T: T, state: s) }
        } else {
            for hd in 0..<heads { attendHead(hd, keys: keys, values: values, T: T, state: s) }
        }
    }

    /// One head: each new token attends to every position up to its own.
    private func attendHead(_ hd: Int, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, T: Int, state s: InferenceState) {
        let d = config.hiddenSize, dh = d / config.heads
        let scale = 1 / Float(dh).squareRoot()
        let headKeys = keys + hd * contextLength * dh, headValues = values + hd * contextLength * dh
        for t in 0..<T {
            tl_attend_f32(s.qkv + t * 3 * d + hd * dh, headKeys, headValues, dh, s.position + t + 1, dh, scale,
                          s.scores + hd * contextLength, s.attention + t * d + hd * dh)
        }
    }
}

/// LayerNorm of one row of width d, with GPT-2's epsilon.
@inline(__always)
func layerNormRow(_ x: UnsafeMutablePointer<Float>, _ d: Int, _ weight: [Float], _ bias: [Float], into o: UnsafeMutablePointer<Float>, epsilon: Float) {
    var mean: Float = 0
    for i in 0..<d { mean += x[i] }
    mean /= Float(d)
    var variance: Float = 0
    for i in 0..<d { let c = x[i] - mean; variance += c * c }
    variance /= Float(d)
    let inv = 1 / (variance + epsilon).squareRoot()
    for i in 0..<d { o[i] = (x[i] - mean) * inv * weight[i] + bias[i] }
}
