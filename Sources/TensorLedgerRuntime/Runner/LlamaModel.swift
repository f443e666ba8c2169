// The LLaMA family (Llama 2 and 3, Mistral, Qwen2 and 3, OLMo 2, SmolLM2, TinyLlama): the
// weights and the forward pass, read top to bottom as the data flows:
// tokens → embeddings → blocks (RMSNorm, attention with rotary positions, RMSNorm,
// SwiGLU MLP, each added back to the residual stream) → final RMSNorm → logits.
// Qwen3 and OLMo 2 normalise queries and keys before the rotation (per head, or all heads
// at once); OLMo 2 normalises each sublayer's output instead of its input.
//
// Grouped-query attention: `heads / kvHeads` query heads share each cached key/value
// head, so the cache holds kvHeads · headDim per layer and position. The shared steps
// are ComputeBackend's (CPUBackend.swift).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class LlamaModel: LanguageModel, @unchecked Sendable {
    package struct Block {
        package var attentionNorms: SublayerNorms         // (d) each
        package var query: WeightMatrix                   // (heads · dh, d)
        package var key: WeightMatrix                     // (kvHeads · dh, d)
        package var value: WeightMatrix                   // (kvHeads · dh, d)
        package var queryBias: [Float]?, keyBias: [Float]?, valueBias: [Float]?  // Qwen2 only
        package var queryNorm: [Float]?, keyNorm: [Float]?  // (dh) Qwen3, (heads · dh) OLMo 2
        package var output: WeightMatrix                  // (d, heads · dh)
        package var mlpNorms: SublayerNorms               // (d) each
        package var mlp: MLP                              // one, or a mixture of experts
        /// Attends only to the last `window` positions (Mistral; Gemma 3's sliding layers).
        package var window: Int?
    }

    /// The RMSNorms around a sublayer: on its input (most families), on its output before it
    /// is added back (OLMo 2), or both (Gemma).
    package struct SublayerNorms {
        package var before: Norm?
        package var after: Norm?
    }

    /// RMSNorm, or LayerNorm where it has a bias (StableLM).
    package struct Norm {
        package var weight: [Float]
        package var bias: [Float]?
    }

    /// A gated MLP: down(act(gate · x) ⊙ (up · x)), SiLU (SwiGLU) or GELU (Gemma's GeGLU).
    package struct MLP {
        package var gate: WeightMatrix                    // (ff, d)
        package var up: WeightMatrix                      // (ff, d)
        package var down: WeightMatrix                    // (d, ff)
        /// A mixture (Mixtral, Qwen3-MoE, OLMoE): the router (experts, d) and the experts;
        /// then `gate`, `up` and `down` are the first expert's.
        package var router: WeightMatrix?
        package var experts: [MLP] = []
        package var bytes: Int { [gate, up, down].reduce(0) { $0 + $1.byteCount } }
    }

    public let config: ModelConfig
    public let tokenizer: BPETokenizer
    public let chat: TokenizerConfig
    public let source: String
    public let notes: [String]
    /// How its states keep keys and values.
    public let cache: KVCacheType
    package let tokenEmbedding: WeightMatrix              // (vocab, d)
    package let blocks: [Block]
    package let finalNorm: Norm                           // (d)
    package let unembedding: WeightMatrix                 // (vocab, d): lm_head, or the embedding when tied
    package let rope: RotaryEmbedding
    /// The sliding layers' rotary positions, when their base differs (Gemma 3).
    package let localRope: RotaryEmbedding?
    /// Gemma multiplies the embeddings by √d, and its MLP is GeGLU.
    package let embeddingScale: Float?
    package let geluGate: Bool
    package let ops: any ComputeBackend

    public var threads: Int { ops.threads }
    /// Mistral attends within a sliding window: longer contexts are refused rather than
    /// run with an attention pattern the model was not trained on. A model whose window is
    /// some layers' (Gemma 3) runs its whole context, those layers attending within it.
    public var contextLength: Int {
        config.slidingLayers.isEmpty ? min(config.contextLength, config.slidingWindow ?? Int.max) : config.contextLength
    }
    public var weightFormat: String {
        Self.formatSummary(blocks.flatMap { b in
            [b.query, b.key, b.value, b.output] + (b.mlp.router == nil ? [b.mlp] : b.mlp.experts).flatMap { [$0.gate, $0.up, $0.down] }
        } + [unembedding])
    }
    /// A mixture reads its router and the experts a token chooses (counted at the average
    /// expert's size).
    public var weightBytesPerToken: Int {
        var total = unembedding.byteCount, experts = 0
        for b in blocks {
            total += [b.query, b.key, b.value, b.output].reduce(0) { $0 + $1.byteCount } + (b.mlp.router?.byteCount ?? 0)
            let mlp = b.mlp.router == nil ? b.mlp.bytes : b.mlp.experts.reduce(0) { $0 + $1.bytes }
            total += mlp
            if b.mlp.router != nil { experts += mlp }
        }
        return config.perToken(total: total, experts: experts)
    }

    /// The family's checkpoint layout: the names of the layout's table (LlamaNames),
    /// nn.Linear matrices stored [out, in], biases only where the checkpoint has them, the
    /// head tied to the embedding when `lm_head` is absent, and each family's departures
    /// from the plain form as its record (ModelFamily) states them.
    package init(source: some WeightSource, config c: ModelConfig, tokenizer: BPETokenizer, chat: TokenizerConfig = TokenizerConfig(),
                 threads: Int, kernels: KernelISA = .detected, cache: KVCacheType = .f16) throws {
        let name = source.sourceName
        guard ["silu", "swish", "gelu_pytorch_tanh", "gelu_new", "gelu_tanh"].contains(c.activation) else {
            throw ModelLoadError.unsupportedSetting(source: name, field: "hidden_act", value: c.activation)
        }
        if let scaling = c.ropeScaling, !["linear", "llama3"].contains(scaling.type) {
            throw ModelLoadError.unsupportedSetting(source: name, field: "rope_scaling type", value: scaling.type)
        }
        guard c.headDim > 0, c.headDim % 2 == 0, c.rotaryDim > 0, c.rotaryDim % 2 == 0 else {
            throw ModelLoadError.unsupportedSetting(source: name, field: "head_dim", value: "\(c.headDim) with \(c.rotaryDim) rotated (rotary embeddings need an even width)")
        }
        config = c
        self.source = name
        self.tokenizer = tokenizer
        self.chat = chat
        self.cache = cache
        ops = CPUBackend(threads: threads, kernels: kernels)
        // A GGUF file gives Llama 3's rope scaling as divisors of the inverse frequencies.
        let divisors = source.has(FamilyTensor.ropeDivisors) ? try source.vector(FamilyTensor.ropeDivisors, count: c.headDim / 2) : nil
        rope = RotaryEmbedding(headDim: c.headDim, rotaryDim: c.rotaryDim, theta: c.ropeTheta, scaling: c.ropeScaling, divisors: divisors)
        let d = c.hiddenSize, ff = c.intermediateSize, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
        let family = c.record
        typealias N = LlamaNames
        func bias(_ n: String, _ count: Int) throws -> [Float]? {
            source.has(n) || c.attentionBias ? try source.vector(n, count: count) : nil
        }
        func mlp(_ gate: String, _ up: String, _ down: String, width: Int) throws -> MLP {
            MLP(gate: try source.matrix(gate, rows: width, cols: d, conv1D: false), up: try source.matrix(up, rows: width, cols: d, conv1D: false),
                down: try source.matrix(down, rows: d, cols: width, conv1D: false))
        }
        // Gemma's RMSNorm scales by 1 + w: the weights are kept so here (a GGUF has them so).
        func norm(_ name: String, _ count: Int) throws -> [Float] {
            let w = try source.vector(name, count: count)
            return family.gemma && !source.gemmaNormsIncludeOne ? w.map { 1 + $0 } : w
        }
        func sublayerNorm(_ name: String) throws -> Norm {
            Norm(weight: try norm(name, d), bias: family.layerNorms ? try source.vector(N.bias(name), count: d) : nil)
        }
        localRope = c.localRopeTheta.map { RotaryEmbedding(headDim: c.headDim, rotaryDim: c.rotaryDim, theta: $0, scaling: nil) }
        embeddingScale = family.gemma ? Float(Double(d).squareRoot()) : nil
        geluGate = ["gelu_pytorch_tanh", "gelu_new", "gelu_tanh"].contains(c.activation)
        let qkNormWidth = family.qkNorm == .whole ? (q, kv) : (c.headDim, c.headDim)
        tokenEmbedding = try source.matrix(N.embedding, rows: c.vocabSize, cols: d, conv1D: false)
        blocks = try (0..<c.layers).map { l in
            func at(_ template: String, expert e: Int = 0) -> String { FamilyTensor.name(template, layer: l, expert: e) }
            func norms(_ before: String, _ after: String) throws -> SublayerNorms {
                SublayerNorms(before: family.norms == .post ? nil : try sublayerNorm(at(before)),
                              after: family.norms == .pre ? nil : try sublayerNorm(at(after)))
            }
            // Phi-3 stores Q, K and V as one matrix's rows, and the gate and up likewise:
            // each part is used where it lies.
            let query: WeightMatrix, key: WeightMatrix, value: WeightMatrix
            if family.fusedProjections {
                let qkv = try source.matrix(at(N.fusedQKV), rows: q + 2 * kv, cols: d, conv1D: false)
                (query, key, value) = (qkv.rows(0..<q), qkv.rows(q..<(q + kv)), qkv.rows((q + kv)..<(q + 2 * kv)))
            } else {
                (query, key, value) = (try source.matrix(at(N.query), rows: q, cols: d, conv1D: false),
                                       try source.matrix(at(N.key), rows: kv, cols: d, conv1D: false),
                                       try source.matrix(at(N.value), rows: kv, cols: d, conv1D: false))
            }
            let ffn: MLP
            if let naming = family.experts {
                // A mixture: the router, and each expert's MLP.
                let experts = try (0..<c.experts).map { e in
                    try mlp(at(N.expertGate(naming), expert: e), at(N.expertUp(naming), expert: e), at(N.expertDown(naming), expert: e),
                            width: c.expertIntermediateSize)
                }
                var m = experts[0]
                m.router = try source.matrix(at(N.router(naming)), rows: c.experts, cols: d, conv1D: false)
                m.experts = experts
                ffn = m
            } else if family.fusedProjections {
                let gateUp = try source.matrix(at(N.fusedGateUp), rows: 2 * ff, cols: d, conv1D: false)
                ffn = MLP(gate: gateUp.rows(0..<ff), up: gateUp.rows(ff..<(2 * ff)), down: try source.matrix(at(N.down), rows: d, cols: ff, conv1D: false))
            } else {
                ffn = try mlp(at(N.gate), at(N.up), at(N.down), width: ff)
            }
            return Block(
                attentionNorms: try norms(N.inputNorm, N.postAttentionNorm),
                query: query, key: key, value: value,
                queryBias: try bias(at(N.bias(N.query)), q),
                keyBias: try bias(at(N.bias(N.key)), kv),
                valueBias: try bias(at(N.bias(N.value)), kv),
                queryNorm: family.qkNorm == nil ? nil : try norm(at(N.queryNorm), qkNormWidth.0),
                keyNorm: family.qkNorm == nil ? nil : try norm(at(N.keyNorm), qkNormWidth.1),
                output: try source.matrix(at(N.output), rows: d, cols: q, conv1D: false),
                // The MLP's norms: before it (post_attention_layernorm in most families, Gemma's
                // pre_feedforward_layernorm), after it (OLMo 2, Gemma 2 and 3).
                mlpNorms: try norms(family.norms == .pre ? N.postAttentionNorm : N.preFeedForwardNorm, N.postFeedForwardNorm),
                mlp: ffn,
                window: c.slidingLayers.isEmpty || c.slidingLayers[l] ? c.slidingWindow : nil)
        }
        finalNorm = try sublayerNorm(N.finalNorm)
        let (head, headNote) = try source.unembedding(c, embedding: tokenEmbedding)
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
        let c = config, d = c.hiddenSize, epsilon = Float(c.layerNormEpsilon)
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let x = state.residual, normed = state.normed
        // Q, K and V of the batch, one after another in the state's qkv buffer.
        let query = state.qkv, key = query + T * qWidth, value = key + T * kvWidth

        for t in 0..<T { tokenEmbedding.row(tokens[t], into: x + t * d) }
        if let scale = embeddingScale { for i in 0..<(T * d) { x[i] *= scale } }
        observer?.embedded(tokens: tokens, x: x, d: d)
        var anglesAreLocal: Bool?

        for (l, block) in blocks.enumerated() {
            // Attention: RMSNorm, Query/Key/Value (Qwen3, OLMo 2 and Gemma 3 normalise Q and K),
            // rotary positions on Q and K (a sliding layer's own base, Gemma 3's), causal
            // softmax over the cache (or its last `window` positions), Output added back.
            let local = localRope != nil && block.window != nil
            let positions = local ? localRope! : rope
            if anglesAreLocal != local {
                positions.angles(start: state.position, count: T, cos: state.ropeCos, sin: state.ropeSin)
                anglesAreLocal = local
            }
            let input = sublayerInput(x, block.attentionNorms, T, state: state)
            ops.multiply([.init(weights: block.query, bias: block.queryBias, output: query),
                          .init(weights: block.key, bias: block.keyBias, output: key),
                          .init(weights: block.value, bias: block.valueBias, output: value)], input, T, state: state)
            if let n = block.queryNorm { ops.rmsNorm(query, T * qWidth / n.count, n.count, n, epsilon: epsilon, into: query) }
            if let n = block.keyNorm { ops.rmsNorm(key, T * kvWidth / n.count, n.count, n, epsilon: epsilon, into: key) }
            positions.apply(query, rows: T, stride: qWidth, heads: c.heads, cos: state.ropeCos, sin: state.ropeSin)
            positions.apply(key, rows: T, stride: kvWidth, heads: c.kvHeads, cos: state.ropeCos, sin: state.ropeSin)
            ops.attend(layer: l, T: T, .init(queries: query, queryStride: qWidth, keys: key, keyStride: kvWidth,
                                             values: value, valueStride: kvWidth, scale: attentionScale, window: block.window,
                                             softCap: c.attentionSoftCap.map(Float.init)), state: state)
            addBack(block.output, state.attention, T, block.attentionNorms, to: x, state: state)
            observer?.attended(layer: l, x: x, T: T, d: d, delta: state.projected)

            // MLP: RMSNorm, then down(act(gate · x) ⊙ (up · x)) added back; a mixture sends
            // each token to its chosen experts and adds their outputs, weighted by the router.
            let mlpInput = sublayerInput(x, block.mlpNorms, T, state: state)
            if let router = block.mlp.router {
                mixture(block.mlp.experts, router: router, mlpInput, T, state: state)
                finish(T, block.mlpNorms, to: x, state: state)
            } else {
                gatedMLP(block.mlp, mlpInput, T, state: state)
                addBack(block.mlp.down, state.hidden, T, block.mlpNorms, to: x, state: state)
            }
            observer?.mlp(layer: l, x: x, T: T, d: d, delta: state.projected)
        }

        // Final norm and the unembedding: logits for the last token, or all of them.
        let first = allLogits ? 0 : T - 1
        normalize(x + first * d, T - first, finalNorm, into: normed)
        ops.multiply(unembedding, normed, T - first, nil, into: state.logits, state: state)
        // Gemma 2 caps the logits softly.
        if let cap = c.finalSoftCap.map(Float.init) {
            for i in 0..<((T - first) * c.vocabSize) { state.logits[i] = cap * tanhf(state.logits[i] / cap) }
        }
        state.position += T
        state.logitRows = T - first
        observer?.finished(x: normed + (T - first - 1) * d, d: d)
    }

    /// Scores scaled by query_pre_attn_scalar^−½ where the configuration says (Gemma), else head_dim^−½.
    private var attentionScale: Float? { config.queryPreAttentionScalar.map { Float(1 / $0.squareRoot()) } }

    /// act(gate · x) ⊙ (up · x) for T rows of x, into state.hidden.
    private func gatedMLP(_ mlp: MLP, _ x: UnsafeMutablePointer<Float>, _ T: Int, state: InferenceState) {
        ops.multiply([.init(weights: mlp.gate, output: state.gate), .init(weights: mlp.up, output: state.hidden)], x, T, state: state)
        if geluGate {
            ops.geGLU(state.hidden, gate: state.gate, T, width: mlp.gate.rows)
        } else {
            ops.swiGLU(state.hidden, gate: state.gate, T, width: mlp.gate.rows)
        }
    }

    /// A mixture of experts over T rows of x, into state.projected: the router's softmax
    /// over experts, each token's top k (their weights scaled to sum to one where the family
    /// does), then each expert run once on the tokens that chose it. Nothing is allocated:
    /// the routes and the gathered rows live in the state.
    private func mixture(_ experts: [MLP], router: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ T: Int, state: InferenceState) {
        let d = config.hiddenSize, E = experts.count, k = config.expertsPerToken
        ops.multiply(router, x, T, nil, into: state.routerLogits, state: state)
        for t in 0..<T {
            // Softmax in place, then the k largest (ties to the lower expert, as torch.topk).
            let p = state.routerLogits + t * E
            var top = p[0], total: Float = 0
            for e in 1..<E { top = max(top, p[e]) }
            for e in 0..<E { p[e] = expf(p[e] - top); total += p[e] }
            var chosen: Float = 0
            for j in 0..<k {
                var best = 0
                for e in 1..<E where p[e] > p[best] { best = e }
                state.routeExperts[t * k + j] = Int32(best)
                state.routeWeights[t * k + j] = p[best] / total
                chosen += p[best] / total
                p[best] = -1
            }
            if config.normalizesTopK { for j in 0..<k { state.routeWeights[t * k + j] /= chosen } }
        }
        state.projected.update(repeating: 0, count: T * d)
        for e in 0..<E {
            // The tokens that chose expert e, gathered into rows; each of their routes is marked
            // with its row (negative), then, once added back, as done (E).
            var n = 0
            for r in 0..<(T * k) where state.routeExperts[r] == Int32(e) {
                (state.expertInput + n * d).update(from: x + (r / k) * d, count: d)
                state.routeExperts[r] = Int32(-1 - n)
                n += 1
            }
            guard n > 0 else { continue }
            gatedMLP(experts[e], state.expertInput, n, state: state)
            ops.multiply(experts[e].down, state.hidden, n, nil, into: state.expertOutput, state: state)
            for r in 0..<(T * k) where state.routeExperts[r] < 0 {
                let row = Int(-1 - state.routeExperts[r]), out = state.projected + (r / k) * d, y = state.expertOutput + row * d
                let w = state.routeWeights[r]
                for j in 0..<d { out[j] += w * y[j] }
                state.routeExperts[r] = Int32(E)  // done: matches no expert again
            }
        }
    }

    /// What a sublayer reads: the residual stream normalised, or as it is when the norm
    /// comes only after the sublayer (OLMo 2).
    private func sublayerInput(_ x: UnsafeMutablePointer<Float>, _ norms: SublayerNorms, _ T: Int, state: InferenceState) -> UnsafeMutablePointer<Float> {
        guard let before = norms.before else { return x }
        normalize(x, T, before, into: state.normed)
        return state.normed
    }

    /// W · input added back to the residual stream x (normalised first where a norm follows
    /// the sublayer). Leaves the added rows in state.projected.
    private func addBack(_ w: WeightMatrix, _ input: UnsafeMutablePointer<Float>, _ T: Int, _ norms: SublayerNorms, to x: UnsafeMutablePointer<Float>,
                         state: InferenceState) {
        guard norms.after != nil else { return ops.multiply(w, input, T, nil, into: state.projected, state: state, then: .addTo(x)) }
        ops.multiply(w, input, T, nil, into: state.projected, state: state)
        finish(T, norms, to: x, state: state)
    }

    /// T rows of width d normalised.
    private func normalize(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ norm: Norm, into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize, epsilon = Float(config.layerNormEpsilon)
        if let bias = norm.bias {
            ops.layerNorm(x, T, d, norm.weight, bias, epsilon: epsilon, into: out)
        } else {
            ops.rmsNorm(x, T, d, norm.weight, epsilon: epsilon, into: out)
        }
    }

    /// state.projected added back to x, normalised first where a norm follows the sublayer.
    private func finish(_ T: Int, _ norms: SublayerNorms, to x: UnsafeMutablePointer<Float>, state: InferenceState) {
        let d = config.hiddenSize
        if let after = norms.after { normalize(state.projected, T, after, into: state.projected) }
        ops.add(state.projected, to: x, count: T * d)
    }

    private func around(_ steps: [TraceStep], _ norms: SublayerNorms?) -> [TraceStep] {
        let name = config.record.layerNorms ? "LayerNorm" : "RMSNorm"
        return (norms?.before == nil ? [] : [.norm(name)]) + steps + (norms?.after == nil ? [] : [.norm(name)])
    }

    public func describe(_ stage: ForwardStage) -> [TraceStep] {
        let c = config
        let d = c.hiddenSize, ff = c.intermediateSize, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
        switch stage {
        case .embedding: return [.lookup(rows: c.vocabSize, width: d)]
        case .attention:
            let qkNorm: [TraceStep] = blocks.first?.queryNorm == nil ? [] : [.norm("RMSNorm of queries and keys")]
            let steps: [TraceStep] = [.matrix("query", in: d, out: q), .matrix("key", in: d, out: kv), .matrix("value", in: d, out: kv)] + qkNorm
                + [.rope, .attention(heads: c.heads, kvHeads: c.kvHeads), .matrix("output", in: q, out: d)]
            return around(steps, blocks.first?.attentionNorms)
        case .mlp where c.experts > 0:
            let e = c.expertIntermediateSize
            return [.norm("RMSNorm"), .matrix("router", in: d, out: c.experts), .activation("top \(c.expertsPerToken) of \(c.experts) experts"),
                    .matrix("gate", in: d, out: e), .matrix("up", in: d, out: e), .activation("SwiGLU"), .matrix("down", in: e, out: d)]
        case .mlp:
            let steps: [TraceStep] = [.matrix("gate", in: d, out: ff), .matrix("up", in: d, out: ff), .activation(geluGate ? "GeGLU" : "SwiGLU"),
                                      .matrix("down", in: ff, out: d)]
            return around(steps, blocks.first?.mlpNorms)
        case .finalNorm: return [.norm(config.record.layerNorms ? "LayerNorm" : "RMSNorm")]
        case .unembedding: return [.matrix("unembedding", in: d, out: c.vocabSize)]
        }
    }
}
