// Everything a forward pass writes: the KV cache and the activation buffers, allocated
// once (grown only for a longer prompt batch), so the token loop allocates nothing.

public final class InferenceState {
    let model: GPT2Model
    /// Tokens already in the cache.
    public internal(set) var position = 0
    /// Rows of `logits` filled by the last forward pass.
    public internal(set) var logitRows = 0

    let keys: UnsafeMutablePointer<Float>       // (layers, heads, n_ctx, d / heads)
    let values: UnsafeMutablePointer<Float>     // (layers, heads, n_ctx, d / heads)
    let scores: UnsafeMutablePointer<Float>     // (heads, n_ctx)
    let scratch: UnsafeMutablePointer<Float>    // (d)
    private(set) var capacity = 1               // tokens the buffers below hold
    private(set) var logitCapacity = 1
    var residual: UnsafeMutablePointer<Float>   // (T, d)
    var normed: UnsafeMutablePointer<Float>     // (T, d)
    var qkv: UnsafeMutablePointer<Float>        // (T, 3d)
    var attention: UnsafeMutablePointer<Float>  // (T, d)
    var projected: UnsafeMutablePointer<Float>  // (T, d)
    var hidden: UnsafeMutablePointer<Float>     // (T, ff)
    var logits: UnsafeMutablePointer<Float>     // (T or 1, vocab)
    var quantized: QuantizedActivations         // (T, ff) activations in int8

    init(model: GPT2Model) {
        self.model = model
        let c = model.config
        let cache = c.layers * c.contextLength * c.hiddenSize
        let d = c.hiddenSize, ff = c.intermediateSize
        keys = .allocate(capacity: cache)
        values = .allocate(capacity: cache)
        scores = .allocate(capacity: c.heads * c.contextLength)
        scratch = .allocate(capacity: d)
        residual = .allocate(capacity: d)
        normed = .allocate(capacity: d)
        qkv = .allocate(capacity: 3 * d)
        attention = .allocate(capacity: d)
        projected = .allocate(capacity: d)
        hidden = .allocate(capacity: ff)
        logits = .allocate(capacity: c.vocabSize)
        quantized = QuantizedActivations(tokens: 1, width: max(d, ff))
    }

    /// Makes room for a batch of T tokens.
    func reserve(tokens T: Int, allLogits: Bool) {
        let c = model.config
        let d = c.hiddenSize, ff = c.intermediateSize, v = c.vocabSize
        if T > capacity {
            freeBatchBuffers()
            capacity = T
            residual = .allocate(capacity: T * d)
            normed = .allocate(capacity: T * d)
            qkv = .allocate(capacity: T * 3 * d)
            attention = .allocate(capacity: T * d)
            projected = .allocate(capacity: T * d)
            hidden = .allocate(capacity: T * ff)
            quantized = QuantizedActivations(tokens: T, width: max(d, ff))
        }
        let rows = allLogits ? T : 1
        if rows > logitCapacity {
            logits.deallocate()
            logitCapacity = rows
            logits = .allocate(capacity: rows * v)
        }
    }

    /// Logits of row `r` of the last forward pass (the last token when r is omitted).
    public func logits(row r: Int? = nil) -> UnsafeBufferPointer<Float> {
        let v = model.config.vocabSize
        return UnsafeBufferPointer(start: logits + (r ?? (logitRows - 1)) * v, count: v)
    }

    /// Forgets the cached tokens (the buffers stay).
    public func reset() { position = 0 }

    private func freeBatchBuffers() {
        for p in [residual, normed, qkv, attention, projected, hidden] { p.deallocate() }
    }

    deinit {
        freeBatchBuffers()
        logits.deallocate()
        keys.deallocate(); values.deallocate(); scores.deallocate(); scratch.deallocate()
    }
}

/// Sees the forward pass as it goes (for `trace`); the default does nothing.
public protocol ForwardObserver: AnyObject {
    func embedded(tokens: [Int], x: UnsafeMutablePointer<Float>, d: Int)
    func attended(layer: Int, x: UnsafeMutablePointer<Float>, T: Int, d: Int, delta: UnsafeMutablePointer<Float>)
    func mlp(layer: Int, x: UnsafeMutablePointer<Float>, T: Int, d: Int, delta: UnsafeMutablePointer<Float>)
    func finished(x: UnsafeMutablePointer<Float>, d: Int)
}

public enum GenerationError: TensorLedgerError, Equatable {
    case contextFull(contextLength: Int, needed: Int)
    case invalidOption(String)
    case emptyPrompt

    public var category: ErrorCategory { .usage }
    public var description: String {
        switch self {
        case .contextFull(let n, let needed): return "the model's context holds \(n) tokens; this needs \(needed)"
        case .invalidOption(let m): return m
        case .emptyPrompt: return "the prompt is empty: give at least one token of text"
        }
    }
}
