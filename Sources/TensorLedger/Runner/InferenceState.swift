// Everything a forward pass writes: the KV cache and the activation buffers, allocated
// once (grown only for a longer prompt batch), so the token loop allocates nothing.
// Sized from the model's shape: the cache from its key/value heads and head width.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sizes a state is allocated from: what any family's forward pass writes.
public struct StateShape: Sendable, Equatable {
    var width: Int           // d: the residual stream
    var heads: Int
    var kvHeads: Int
    var headDim: Int
    var intermediate: Int    // ff
    var vocabulary: Int
    var layers: Int
    var contextLength: Int
    /// The MLP has a gate (SwiGLU) beside its up-projection.
    var gated: Bool
    var queryWidth: Int { heads * headDim }
    var kvWidth: Int { kvHeads * headDim }

    /// The runner's shape for a configuration: GPT-2 has a key/value head per head and no
    /// gate; the LLaMA family has its own key/value heads, head width and SwiGLU gate.
    public init(config c: ModelConfig, contextLength: Int) {
        let llama = c.family == .llama
        self.init(width: c.hiddenSize, heads: c.heads, kvHeads: llama ? c.kvHeads : c.heads,
                  headDim: llama ? c.headDim : c.hiddenSize / max(c.heads, 1), intermediate: c.intermediateSize,
                  vocabulary: c.vocabSize, layers: c.layers, contextLength: contextLength, gated: llama)
    }

    init(width: Int, heads: Int, kvHeads: Int, headDim: Int, intermediate: Int, vocabulary: Int, layers: Int, contextLength: Int, gated: Bool) {
        (self.width, self.heads, self.kvHeads, self.headDim, self.intermediate) = (width, heads, kvHeads, headDim, intermediate)
        (self.vocabulary, self.layers, self.contextLength, self.gated) = (vocabulary, layers, contextLength, gated)
    }

    /// Bytes of keys and values one token adds to the cache (f32, every layer).
    public var cacheBytesPerToken: Int { 2 * layers * kvWidth * MemoryLayout<Float>.size }

    /// Floats of each buffer a batch of T tokens needs, as InferenceState allocates them.
    struct BatchBuffers {
        var residual, normed, qkv, attention, projected, hidden, gate, rope: Int
        var quantizedWidth: Int
        var all: [Int] { [residual, normed, qkv, attention, projected, hidden, gate, rope, rope] }
    }

    func batchBuffers(tokens T: Int) -> BatchBuffers {
        BatchBuffers(residual: T * width, normed: T * width, qkv: T * (queryWidth + 2 * kvWidth), attention: T * queryWidth,
                     projected: T * width, hidden: T * intermediate, gate: gated ? T * intermediate : 1,
                     rope: T * max(headDim / 2, 1), quantizedWidth: max(width, queryWidth, intermediate))
    }

    /// Bytes of the activation buffers for a prompt of T tokens (logits of the last only, or
    /// of every token), the scores and the int8 activations: everything but the cache.
    public func scratchBytes(tokens T: Int, allLogits: Bool) -> Int {
        let b = batchBuffers(tokens: T)
        let floats = b.all.reduce(0, +) + (allLogits ? T : 1) * vocabulary + heads * contextLength + width
        let quantized = T * b.quantizedWidth * (1 + 2 * MemoryLayout<Float>.size / 32)  // bytes, scales and block sums
        return floats * MemoryLayout<Float>.size + quantized
    }
}

public final class InferenceState {
    let shape: StateShape
    /// Tokens already in the cache.
    public internal(set) var position = 0
    /// Rows of `logits` filled by the last forward pass.
    public internal(set) var logitRows = 0
    /// Positions the cache holds now: it grows (doubling, up to the model's context) as the
    /// text does, so a model that claims a long context costs only what is used.
    private(set) var cacheCapacity = 0

    private(set) var keys: UnsafeMutablePointer<Float>    // (layers, kvHeads, cacheCapacity, headDim)
    private(set) var values: UnsafeMutablePointer<Float>  // (layers, kvHeads, cacheCapacity, headDim)
    private(set) var scores: UnsafeMutablePointer<Float>  // (heads, cacheCapacity)
    let scratch: UnsafeMutablePointer<Float>    // (d)
    private(set) var capacity = 0               // tokens the buffers below hold
    private(set) var logitCapacity = 0
    var residual: UnsafeMutablePointer<Float>   // (T, d)
    var normed: UnsafeMutablePointer<Float>     // (T, d)
    var qkv: UnsafeMutablePointer<Float>        // (T, q + 2·kv): fused rows, or Q, K and V one after another
    var attention: UnsafeMutablePointer<Float>  // (T, q)
    var projected: UnsafeMutablePointer<Float>  // (T, d)
    var hidden: UnsafeMutablePointer<Float>     // (T, ff)
    var gate: UnsafeMutablePointer<Float>       // (T, ff): SwiGLU's gate
    var ropeCos: UnsafeMutablePointer<Float>    // (T, headDim / 2)
    var ropeSin: UnsafeMutablePointer<Float>    // (T, headDim / 2)
    var logits: UnsafeMutablePointer<Float>     // (T or 1, vocab)
    var quantized: QuantizedActivations         // (T, max(d, q, ff)) activations in int8

    init(shape: StateShape) {
        self.shape = shape
        (keys, values, scores) = (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        scratch = .allocate(capacity: shape.width)
        (residual, normed, qkv, attention, projected, hidden, gate, ropeCos, ropeSin, logits) =
            (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1),
             .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        quantized = QuantizedActivations(tokens: 1, width: 32)
        reserve(tokens: 1, allLogits: false)
    }

    /// Makes the cache hold `positions` positions (at most the model's context), keeping
    /// what it holds; refuses, rather than traps, when the memory cannot be had.
    func reserveCache(positions: Int) throws {
        guard positions > cacheCapacity else { return }
        let capacity = min(shape.contextLength, max(positions, 2 * cacheCapacity, 64))
        let slabs = shape.layers * shape.kvHeads, dh = shape.headDim
        let (count, overflow) = (slabs * dh).multipliedReportingOverflow(by: capacity)
        let bytes = Double(slabs * dh) * Double(capacity) * 8 + Double(shape.heads * capacity) * 4
        guard !overflow, count < Int.max / 16,
              let k = malloc(max(count, 1) * MemoryLayout<Float>.size), let v = malloc(max(count, 1) * MemoryLayout<Float>.size),
              let sc = malloc(max(shape.heads * capacity, 1) * MemoryLayout<Float>.size) else {
            throw GenerationError.cannotRun("cannot allocate \(formatFixed(bytes / 1_073_741_824, 1)) GiB for a KV cache of \(formatCount(capacity)) positions")
        }
        let newKeys = k.assumingMemoryBound(to: Float.self), newValues = v.assumingMemoryBound(to: Float.self)
        for slab in 0..<slabs where position > 0 {
            (newKeys + slab * capacity * dh).update(from: keys + slab * cacheCapacity * dh, count: position * dh)
            (newValues + slab * capacity * dh).update(from: values + slab * cacheCapacity * dh, count: position * dh)
        }
        freeCache()
        (keys, values, scores) = (newKeys, newValues, sc.assumingMemoryBound(to: Float.self))
        cacheCapacity = capacity
    }

    private func freeCache() {
        if cacheCapacity == 0 {
            keys.deallocate(); values.deallocate(); scores.deallocate()
        } else {
            free(keys); free(values); free(scores)
        }
    }

    /// Makes room for a batch of T tokens.
    func reserve(tokens T: Int, allLogits: Bool) {
        let c = shape
        if T > capacity {
            freeBatchBuffers()
            capacity = T
            let b = c.batchBuffers(tokens: T)
            residual = .allocate(capacity: b.residual)
            normed = .allocate(capacity: b.normed)
            qkv = .allocate(capacity: b.qkv)
            attention = .allocate(capacity: b.attention)
            projected = .allocate(capacity: b.projected)
            hidden = .allocate(capacity: b.hidden)
            gate = .allocate(capacity: b.gate)
            ropeCos = .allocate(capacity: b.rope)
            ropeSin = .allocate(capacity: b.rope)
            quantized = QuantizedActivations(tokens: T, width: b.quantizedWidth)
        }
        let rows = allLogits ? T : 1
        if rows > logitCapacity {
            logits.deallocate()
            logitCapacity = rows
            logits = .allocate(capacity: rows * c.vocabulary)
        }
    }

    /// Logits of row `r` of the last forward pass (the last token when r is omitted).
    public func logits(row r: Int? = nil) -> UnsafeBufferPointer<Float> {
        let v = shape.vocabulary
        return UnsafeBufferPointer(start: logits + (r ?? (logitRows - 1)) * v, count: v)
    }

    /// Forgets the cached tokens (the buffers stay).
    public func reset() { position = 0 }

    private func freeBatchBuffers() {
        for p in [residual, normed, qkv, attention, projected, hidden, gate, ropeCos, ropeSin] { p.deallocate() }
    }

    deinit {
        freeBatchBuffers()
        logits.deallocate()
        freeCache()
        scratch.deallocate()
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
    /// A setting out of its range; the command line names it by its option.
    case invalidSetting(Setting, reason: String)
    /// A request the models or the text cannot meet (two models that cannot be compared, a text too short).
    case cannotRun(String)
    case emptyPrompt
    /// A prompt longer in bytes than the context could hold in tokens, refused unread.
    case promptTooLarge(source: String, contextLength: Int, limit: Int)
    /// The logits hold NaN or infinity; `stage` is where the last token's vector first did.
    case nonFinite(stage: String)

    /// The settings a caller gives generation and evaluation.
    public enum Setting: String, Sendable {
        case temperature, topK = "top-k", topP = "top-p", minP = "min-p", repeatPenalty = "repeat-penalty"
        case maxTokens = "token count", context = "window length"
    }

    public var category: ErrorCategory {
        if case .nonFinite = self { return .badInput }
        return .usage
    }
    public var description: String {
        switch self {
        case .contextFull(let n, let needed): return "the model's context holds \(n) tokens; this needs \(needed)"
        case .invalidSetting(let s, let reason): return "\(s.rawValue) \(reason)"
        case .cannotRun(let m): return m
        case .emptyPrompt: return "the prompt is empty: give at least one token of text"
        case .promptTooLarge(let s, let n, let limit):
            return "\(s): more than \(formatCount(limit)) bytes of text, more than the model's context of \(formatCount(n)) tokens can hold"
        case .nonFinite(let stage):
            return "the model computed values that are not finite (NaN or infinity), first after \(stage); its weights are damaged or overflow"
        }
    }
}
