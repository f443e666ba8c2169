// Everything a forward pass writes: the KV cache and the activation buffers, allocated
// once (grown only for a longer prompt batch), so the token loop allocates nothing.
// Sized from the model's shape: the cache from its key/value heads and head width.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class InferenceState {
    package let shape: StateShape
    /// Tokens already in the cache.
    public internal(set) var position = 0
    /// Rows of `logits` filled by the last forward pass.
    public internal(set) var logitRows = 0
    /// Positions the cache holds now: it grows (doubling, up to the model's context) as the
    /// text does, so a model that claims a long context costs only what is used.
    package private(set) var cacheCapacity = 0

    /// (layers, kvHeads, cacheCapacity) rows of one head's headDim values each, f32, f16 or
    /// q8 blocks as shape.cache says (shape.cacheRowBytes a row).
    package private(set) var keys: UnsafeMutableRawPointer
    package private(set) var values: UnsafeMutableRawPointer
    package let scratch: UnsafeMutablePointer<Float>    // (d)
    package private(set) var capacity = 0               // tokens the buffers below hold
    package private(set) var logitCapacity = 0
    package var residual: UnsafeMutablePointer<Float>   // (T, d)
    package var normed: UnsafeMutablePointer<Float>     // (T, d)
    package var qkv: UnsafeMutablePointer<Float>        // (T, q + 2·kv): fused rows, or Q, K and V one after another
    package var attention: UnsafeMutablePointer<Float>  // (T, q)
    package var projected: UnsafeMutablePointer<Float>  // (T, d)
    package var hidden: UnsafeMutablePointer<Float>     // (T, ff)
    package var gate: UnsafeMutablePointer<Float>       // (T, ff): SwiGLU's gate
    package var routerLogits: UnsafeMutablePointer<Float>  // (T, experts): a mixture's router
    package var expertInput: UnsafeMutablePointer<Float>   // (T, d): the tokens one expert takes
    package var expertOutput: UnsafeMutablePointer<Float>  // (T, d): what that expert gives them
    package var routeExperts: UnsafeMutablePointer<Int32>  // (T, k): each token's chosen experts
    package var routeWeights: UnsafeMutablePointer<Float>  // (T, k): and their weights
    package var ropeCos: UnsafeMutablePointer<Float>    // (T, headDim / 2)
    package var ropeSin: UnsafeMutablePointer<Float>    // (T, headDim / 2)
    package var logits: UnsafeMutablePointer<Float>     // (T or 1, vocab)
    package var quantized: QuantizedActivations         // (T, max(d, q, ff)) activations in int8
    /// Bytes allocated for the cache (keys and values) and everything else, as each
    /// allocation was made: what `plan` must predict.
    package private(set) var cacheBytes = 0
    package private(set) var bufferBytes = 0
    package private(set) var logitBytes = 0

    package init(shape: StateShape) {
        self.shape = shape
        (keys, values) = (.allocate(byteCount: 4, alignment: 64), .allocate(byteCount: 4, alignment: 64))
        scratch = .allocate(capacity: shape.width)
        (residual, normed, qkv, attention, projected, hidden, gate, ropeCos, ropeSin, logits) =
            (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1),
             .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        (routerLogits, expertInput, expertOutput) = (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        (routeExperts, routeWeights) = (.allocate(capacity: 1), .allocate(capacity: 1))
        quantized = QuantizedActivations(tokens: 1, width: 32)
        reserve(tokens: 1, allLogits: false)
    }

    /// Makes the cache hold `positions` positions (at most the model's context), keeping
    /// what it holds; refuses, rather than traps, when the memory cannot be had.
    package func reserveCache(positions: Int) throws {
        guard positions > cacheCapacity else { return }
        let capacity = min(shape.contextLength, max(positions, 2 * cacheCapacity, 64))
        let slabs = shape.layers * shape.kvHeads, row = shape.cacheRowBytes
        let (count, overflow) = (slabs * row).multipliedReportingOverflow(by: capacity)
        let bytes = Double(slabs * row) * Double(capacity) * 2
        let refusal = GenerationError.cannotRun("cannot allocate \(formatFixed(bytes / 1_073_741_824, 1)) GiB for a KV cache of \(formatCount(capacity)) positions")
        guard !overflow, count < Int.max / 16, let k = malloc(max(count, 1)) else { throw refusal }
        guard let v = malloc(max(count, 1)) else {
            free(k)
            throw refusal
        }
        for slab in 0..<slabs where position > 0 {
            (k + slab * capacity * row).copyMemory(from: keys + slab * cacheCapacity * row, byteCount: position * row)
            (v + slab * capacity * row).copyMemory(from: values + slab * cacheCapacity * row, byteCount: position * row)
        }
        freeCache()
        (keys, values) = (k, v)
        cacheCapacity = capacity
        cacheBytes = 2 * count
    }

    private func freeCache() {
        if cacheCapacity == 0 {
            keys.deallocate(); values.deallocate()
        } else {
            free(keys); free(values)
        }
    }

    /// Makes room for a batch of T tokens.
    package func reserve(tokens T: Int, allLogits: Bool) {
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
            routerLogits = .allocate(capacity: b.routerLogits)
            expertInput = .allocate(capacity: b.expertRows)
            expertOutput = .allocate(capacity: b.expertRows)
            routeExperts = .allocate(capacity: b.routes)
            routeWeights = .allocate(capacity: b.routes)
            ropeCos = .allocate(capacity: b.rope)
            ropeSin = .allocate(capacity: b.rope)
            quantized = QuantizedActivations(tokens: T, width: b.quantizedWidth)
            bufferBytes = (b.all.reduce(0, +) + c.width) * MemoryLayout<Float>.size + quantized.bytes
        }
        let rows = allLogits ? T : 1
        if rows > logitCapacity {
            logits.deallocate()
            logitCapacity = rows
            logits = .allocate(capacity: rows * c.vocabulary)
            logitBytes = rows * c.vocabulary * MemoryLayout<Float>.size
        }
    }

    /// Every byte the state holds now.
    package var allocatedBytes: Int { cacheBytes + bufferBytes + logitBytes }

    /// Logits of row `r` of the last forward pass (the last token when r is omitted).
    public func logits(row r: Int? = nil) -> UnsafeBufferPointer<Float> {
        let v = shape.vocabulary
        return UnsafeBufferPointer(start: logits + (r ?? (logitRows - 1)) * v, count: v)
    }

    /// Forgets the cached tokens (the buffers stay).
    public func reset() { position = 0 }

    private func freeBatchBuffers() {
        for p in [residual, normed, qkv, attention, projected, hidden, gate, routerLogits, expertInput, expertOutput, routeWeights, ropeCos, ropeSin] {
            p.deallocate()
        }
        routeExperts.deallocate()
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
        case maxTokens = "token count", context = "window length", cache = "the KV cache type"
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
