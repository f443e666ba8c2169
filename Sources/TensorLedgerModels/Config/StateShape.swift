// The sizes a model's state is allocated from: the KV cache and the scratch vectors
// every family's forward pass writes. `plan` and the runner both size memory by it.

/// The sizes a state is allocated from: what any family's forward pass writes.
import CKernels
import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

public struct StateShape: Sendable, Equatable {
    package var width: Int           // d: the residual stream
    package var heads: Int
    package var kvHeads: Int
    package var headDim: Int
    package var intermediate: Int    // ff
    package var vocabulary: Int
    package var layers: Int
    package var contextLength: Int
    /// The MLP has a gate (SwiGLU) beside its up-projection.
    package var gated: Bool
    /// Experts per layer of a mixture (0 for a dense MLP).
    package var experts = 0
    package var expertsPerToken = 0
    /// How the cache stores keys and values.
    package var cache = KVCacheType.f16
    package var queryWidth: Int { heads * headDim }
    package var kvWidth: Int { kvHeads * headDim }

    /// The runner's shape for a configuration: GPT-2 has a key/value head per head and no
    /// gate; the LLaMA family has its own key/value heads, head width and SwiGLU gate.
    public init(config c: ModelConfig, contextLength: Int, cache: KVCacheType = .f16) {
        let llama = c.family == .llama
        self.init(width: c.hiddenSize, heads: c.heads, kvHeads: llama ? c.kvHeads : c.heads,
                  headDim: llama ? c.headDim : c.hiddenSize / max(c.heads, 1), intermediate: c.experts > 0 ? c.expertIntermediateSize : c.intermediateSize,
                  vocabulary: c.vocabSize, layers: c.layers, contextLength: contextLength, gated: llama)
        experts = c.experts
        expertsPerToken = c.expertsPerToken
        self.cache = cache
    }

    package init(width: Int, heads: Int, kvHeads: Int, headDim: Int, intermediate: Int, vocabulary: Int, layers: Int, contextLength: Int, gated: Bool) {
        (self.width, self.heads, self.kvHeads, self.headDim, self.intermediate) = (width, heads, kvHeads, headDim, intermediate)
        (self.vocabulary, self.layers, self.contextLength, self.gated) = (vocabulary, layers, contextLength, gated)
    }

    /// Bytes of keys and values one token adds to the cache (every layer).
    public var cacheBytesPerToken: Int { 2 * layers * kvHeads * cacheRowBytes }
    /// Bytes of one head's keys (or values) at one position.
    public var cacheRowBytes: Int { cache.bytes(values: headDim) }

    /// Floats of each buffer a batch of T tokens needs, as InferenceState allocates them.
    package struct BatchBuffers {
        package var residual, normed, qkv, attention, projected, hidden, gate, rope: Int
        package var routerLogits, expertRows: Int
        /// Each token's chosen experts and their weights (4-byte values each).
        package var routes: Int
        package var quantizedWidth: Int
        package var all: [Int] { [residual, normed, qkv, attention, projected, hidden, gate, routerLogits, expertRows, expertRows, routes, routes, rope, rope] }
    }

    package func batchBuffers(tokens T: Int) -> BatchBuffers {
        BatchBuffers(residual: T * width, normed: T * width, qkv: T * (queryWidth + 2 * kvWidth), attention: T * queryWidth,
                     projected: T * width, hidden: T * intermediate, gate: gated ? T * intermediate : 1,
                     rope: T * max(headDim / 2, 1), routerLogits: experts > 0 ? T * experts : 1, expertRows: experts > 0 ? T * width : 1,
                     routes: experts > 0 ? T * expertsPerToken : 1,
                     quantizedWidth: max(width, queryWidth, intermediate))
    }

    /// Bytes of the activation buffers for a prompt of T tokens (logits of the last only, or
    /// of every token) and the int8 activations: everything but the cache.
    public func scratchBytes(tokens T: Int, allLogits: Bool) -> Int {
        let b = batchBuffers(tokens: T)
        let floats = b.all.reduce(0, +) + (allLogits ? T : 1) * vocabulary + width
        // int8 values, and per block of 32 an f32 scale and an i32 sum; then their arrangement
        // for the prompt kernels, where this machine's kernels read one
        let quantized = T * b.quantizedWidth + (T * b.quantizedWidth / 32) * (MemoryLayout<Float>.size + MemoryLayout<Int32>.size)
        return floats * MemoryLayout<Float>.size + quantized + tl_arranged_tokens_bytes(b.quantizedWidth, T)
    }
}
