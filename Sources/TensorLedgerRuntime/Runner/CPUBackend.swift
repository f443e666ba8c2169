// The CPU backend: the operations of ComputeBackend on this machine's cores, with the C
// kernels (CKernels) for the products, attention and activations: matrix products (the
// one hot spot, and the one place work is split across threads), LayerNorm and RMSNorm,
// causal attention over the KV cache, SwiGLU. Rotary position embeddings are here too.

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

package final class CPUBackend: ComputeBackend, @unchecked Sendable {
    package let threads: Int
    package let pool: WorkerPool
    /// The kernel variant every product of this model runs, on every thread that works on it.
    package let kernels: KernelISA

    /// Below this many multiply-adds a product runs on the calling thread: a hand-off
    /// costs a few microseconds, more than a small product takes.
    package static let threadedProductWork = 1 << 17
    /// Per-token work (norms, quantizing activations) is split across threads only for
    /// batches at least this long; shorter ones finish before the workers wake.
    package static let threadedTokenBatch = 16

    package init(threads: Int, kernels: KernelISA = .detected) {
        self.threads = max(1, threads)
        self.kernels = kernels
        pool = WorkerPool(threads: self.threads, kernels: kernels)
    }

    /// Runs a forward pass on the calling thread with this model's kernel variant.
    package func run<T>(_ body: () throws -> T) rethrows -> T {
        try KernelISA.with(kernels, body)
    }

    // MARK: Matrix products



    /// y[t] = W · x[t] + bias for T inputs, then the epilogue: each weight row is read once
    /// for all of them; rows are split across threads, one hand-off per matrix.
    package func multiply(_ w: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ T: Int, _ bias: [Float]?,
                  into y: UnsafeMutablePointer<Float>, state: InferenceState, then epilogue: ProductEpilogue = .none) {
        multiply([MatrixProduct(weights: w, bias: bias, output: y, epilogue: epilogue)], x, T, state: state)
    }

    /// Several matrices applied to the same input (LLaMA's Q, K and V; gate and up): the
    /// input is quantized once and their rows, taken end to end, are split across the
    /// threads in one hand-off, so small matrices do not each pay for one or run alone.
    package func multiply(_ products: [MatrixProduct], _ x: UnsafeMutablePointer<Float>, _ T: Int, state: InferenceState) {
        let cols = products[0].weights.cols
        let quantize = products.contains { $0.weights.needsQuantizedInput }
        let xq = quantize ? state.quantized : nil
        let per256 = cols % 256 == 0 && products.allSatisfy { $0.weights.takesActivationsPer256 }
        xq?.set(x, tokens: T, count: cols, per256: per256, split: forEachTokenRange)
        let body = { (p: MatrixProduct, range: Range<Int>) in
            let w = p.weights, rows = w.rows, y = p.output
            if T == 1 {
                w.dotRows(range, x: x, xq: xq, out: y)
            } else {
                w.multiplyRows(range, x: x, tokens: T, xq: xq, out: y)
            }
            for t in 0..<T {
                let yt = y + t * rows
                if let bias = p.bias { for r in range { yt[r] += bias[r] } }
                switch p.epilogue {
                case .none: break
                case .gelu: tl_gelu(yt + range.lowerBound, range.count)
                case .addTo(let sum): for r in range { sum[t * rows + r] += yt[r] }
                }
            }
        }
        let totalRows = products.reduce(0) { $0 + $1.weights.rows }
        // Rows [lo, hi) of the matrices taken end to end.
        let span = { (lo: Int, hi: Int) in
            var start = 0
            for p in products {
                let a = max(lo, start), b = min(hi, start + p.weights.rows)
                if a < b { body(p, (a - start)..<(b - start)) }
                start += p.weights.rows
            }
        }
        if totalRows * cols * T < CPUBackend.threadedProductWork || threads == 1 {
            span(0, totalRows)
        } else {
            let chunks = GuidedChunks(rows: totalRows, threads: pool.threads)
            pool.run(chunks: chunks.count) { c in
                let rows = chunks.rows(c)
                span(rows.lowerBound, rows.upperBound)
            }
        }
    }

    /// The chunks of a product's rows that the threads claim in order, each a share of what is
    /// left (a half of it split among the threads), cut at multiples of 32 rows (whole tiles
    /// of the GEMM kernel, and no two chunks share a cache line of output). They shrink toward
    /// the end, so the threads finish within a small chunk of each other; equal chunks left
    /// one waiting up to a whole one, an eighth of the matrix.
    package struct GuidedChunks {
        let total: Int, threads: Int

        package init(rows: Int, threads: Int) { (total, self.threads) = (rows, threads) }

        func end(after start: Int) -> Int { min(total, start + max(32, (total - start) / (2 * threads) / 32 * 32)) }

        package var count: Int {
            var n = 0, start = 0
            while start < total { start = end(after: start); n += 1 }
            return n
        }

        package func rows(_ chunk: Int) -> Range<Int> {
            var start = 0
            for _ in 0..<chunk { start = end(after: start) }
            return start..<end(after: start)
        }
    }

    /// SwiGLU's product in place: y = silu(gate) · y over T rows of `width`.
    package func swiGLU(_ y: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>, _ T: Int, width: Int) {
        forEachTokenRange(T) { tokens in
            let first = tokens.lowerBound * width
            tl_silu_mul(y + first, gate + first, tokens.count * width)
        }
    }

    package func geGLU(_ y: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>, _ T: Int, width: Int) {
        forEachTokenRange(T) { tokens in
            let first = tokens.lowerBound * width, n = tokens.count * width
            tl_gelu(gate + first, n)
            for i in first..<(first + n) { y[i] *= gate[i] }
        }
    }

    /// Work done per token is split by tokens across the threads when a batch is large
    /// enough to pay for the hand-off.
    package func forEachTokenRange(_ T: Int, _ body: (Range<Int>) -> Void) {
        guard threads > 1, T >= CPUBackend.threadedTokenBatch else { return body(0..<T) }
        let chunks = pool.threads
        pool.run(chunks: chunks) { c in body((T * c / chunks)..<(T * (c + 1) / chunks)) }
    }

    // MARK: Norms

    /// LayerNorm of T rows of width d (GPT-2).
    package func layerNorm(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ d: Int, _ weight: [Float], _ bias: [Float], epsilon: Float,
                   into out: UnsafeMutablePointer<Float>) {
        forEachTokenRange(T) { tokens in
            for t in tokens { layerNormRow(x + t * d, d, weight, bias, into: out + t * d, epsilon: epsilon) }
        }
    }

    /// RMSNorm of T rows of width d (LLaMA): x · w / √(mean(x²) + ε).
    package func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ d: Int, _ weight: [Float], epsilon: Float,
                 into out: UnsafeMutablePointer<Float>) {
        forEachTokenRange(T) { tokens in
            for t in tokens { rmsNormRow(x + t * d, d, weight, into: out + t * d, epsilon: epsilon) }
        }
    }

    package func add(_ delta: UnsafeMutablePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += delta[i] }
    }

    // MARK: Attention


    /// Causal attention of T new tokens at positions state.position…: their keys and values
    /// go into the cache, then each query head attends to every position up to its own
    /// through its key/value head (grouped-query attention: `heads / kvHeads` query heads
    /// share one). Writes state.attention (T, heads · headDim). A prompt's heads are spread
    /// over the threads.
    package func attend(layer: Int, T: Int, _ input: AttentionInput, state: InferenceState) {
        let shape = state.shape
        let dh = shape.headDim, kvHeads = shape.kvHeads, row = shape.cacheRowBytes
        let layerOffset = layer * kvHeads * state.cacheCapacity * row
        let keys = state.keys + layerOffset, values = state.values + layerOffset
        // The new keys and values into the cache, narrowed to f16 or quantized to Q8_0 blocks
        // (ggml's rounding) where it is kept so.
        for t in 0..<T {
            for kh in 0..<kvHeads {
                let offset = (kh * state.cacheCapacity + state.position + t) * row
                let k = input.keys + t * input.keyStride + kh * dh, v = input.values + t * input.valueStride + kh * dh
                switch shape.cache {
                case .f32:
                    (keys + offset).copyMemory(from: k, byteCount: dh * 4)
                    (values + offset).copyMemory(from: v, byteCount: dh * 4)
                case .f16:
                    tl_narrow_f16(k, dh, (keys + offset).assumingMemoryBound(to: UInt16.self))
                    tl_narrow_f16(v, dh, (values + offset).assumingMemoryBound(to: UInt16.self))
                case .q8:
                    // (What no block's f16 scale holds, a value beyond 65,504 × 127, is beyond
                    // an f16 cache too.)
                    _ = tl_quantize_q8_0_ggml(k, dh, (keys + offset).assumingMemoryBound(to: UInt8.self), nil)
                    _ = tl_quantize_q8_0_ggml(v, dh, (values + offset).assumingMemoryBound(to: UInt8.self), nil)
                }
            }
        }
        let type: tl_weight_type
        switch shape.cache {
        case .f32: type = TL_WEIGHTS_F32
        case .f16: type = TL_WEIGHTS_F16
        case .q8: type = TL_WEIGHTS_Q8_0
        }
        let group = shape.heads / kvHeads
        let scale = input.scale ?? 1 / Float(dh).squareRoot()
        // A prompt's queries in blocks of 32 (the kernels take 32 or 16 at once and read each
        // key once for them), a block of a head to a chunk, the blocks that see the most
        // positions first so that the threads finish together.
        let blockSize = 32, blocks = (T + blockSize - 1) / blockSize
        let block = { (chunk: Int) in
            let h = chunk % shape.heads, t0 = (blocks - 1 - chunk / shape.heads) * blockSize, n = min(blockSize, T - t0)
            let cacheOffset = (h / group) * state.cacheCapacity * row
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * blockSize) { ranges in
                let start = ranges.baseAddress!, end = start + blockSize
                for i in 0..<n {
                    end[i] = state.position + t0 + i + 1
                    start[i] = input.window.map { max(0, end[i] - $0) } ?? 0
                }
                tl_attend_queries(input.queries + t0 * input.queryStride + h * dh, input.queryStride, n, keys + cacheOffset,
                                  values + cacheOffset, type, dh, start, end, dh, scale, input.softCap ?? 0,
                                  state.attention + t0 * shape.queryWidth + h * dh, shape.queryWidth)
            }
        }
        let parallel = threads > 1 && T * (state.position + T) * shape.queryWidth >= CPUBackend.threadedProductWork
        // Decoding: the query heads that share a key/value head read its cache together, once.
        // Where the heads do not share out evenly among the threads (SmolLM2's 3 on 2, Gemma 3
        // 1B's 1), each head's positions go in `parts` pieces, one chunk each, merged by their
        // maxima and sums.
        let together = T == 1 && group > 1
        let parts = together && parallel && kvHeads % threads != 0 ? threads : 1
        // The pieces' results and statistics on the stack: nothing allocated per token.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: parts > 1 ? parts * (shape.queryWidth + 2 * shape.heads) : 1) { buffer in
            let pieces = buffer.baseAddress!
            let shared = { (chunk: Int) in
                let kh = chunk / parts, part = chunk % parts
                let cacheOffset = kh * state.cacheCapacity * row
                let end = state.position + 1, first = input.window.map { max(0, end - $0) } ?? 0
                let lo = first + (end - first) * part / parts, hi = first + (end - first) * (part + 1) / parts
                var starts = (lo, lo, lo, lo, lo, lo, lo, lo), ends = (hi, hi, hi, hi, hi, hi, hi, hi)
                withUnsafePointer(to: &starts) { s in
                    withUnsafePointer(to: &ends) { e in
                        for h0 in stride(from: kh * group, to: (kh + 1) * group, by: 8) {
                            let n = min(8, (kh + 1) * group - h0)
                            let out = parts > 1 ? pieces + part * shape.queryWidth + h0 * dh : state.attention + h0 * dh
                            let stats = parts > 1 ? pieces + parts * shape.queryWidth + (part * shape.heads + h0) * 2 : nil
                            tl_attend_queries_partial(input.queries + h0 * dh, dh, n, keys + cacheOffset, values + cacheOffset, type, dh,
                                                      UnsafeRawPointer(s).assumingMemoryBound(to: Int.self), UnsafeRawPointer(e).assumingMemoryBound(to: Int.self),
                                                      dh, scale, input.softCap ?? 0, out, dh, stats)
                        }
                    }
                }
            }
            switch (together, parallel) {
            case (true, true): pool.run(chunks: kvHeads * parts, shared)
            case (true, false): for kh in 0..<kvHeads { shared(kh) }
            case (_, true): pool.run(chunks: shape.heads * blocks, block)
            case (_, false): for chunk in 0..<shape.heads * blocks { block(chunk) }
            }
            if parts > 1 {
                CPUBackend.merge(parts: parts, pieces, stats: pieces + parts * shape.queryWidth, heads: shape.heads, dh: dh, into: state.attention)
            }
        }
    }

    /// Each head's result from `parts` pieces of its positions (piece p's outputs at
    /// pieces + p · heads · dh, its largest score and Σ e^(score − largest) at stats + (p ·
    /// heads + h) · 2): Σ_p w_p · out_p / Σ_p w_p, w_p = sum_p · e^(max_p − the largest max).
    static func merge(parts: Int, _ pieces: UnsafePointer<Float>, stats: UnsafePointer<Float>, heads: Int, dh: Int,
                      into out: UnsafeMutablePointer<Float>) {
        for h in 0..<heads {
            var top = -Float.infinity
            for p in 0..<parts { top = max(top, stats[(p * heads + h) * 2]) }
            var total: Float = 0
            for i in 0..<dh { out[h * dh + i] = 0 }
            for p in 0..<parts {
                let m = stats[(p * heads + h) * 2], sum = stats[(p * heads + h) * 2 + 1]
                guard sum > 0 else { continue }  // a piece that saw no position
                let w = sum * exp(m - top)
                total += w
                let piece = pieces + p * heads * dh + h * dh
                for i in 0..<dh { out[h * dh + i] += w * piece[i] }
            }
            let inverse = total > 0 ? 1 / total : 0
            for i in 0..<dh { out[h * dh + i] *= inverse }
        }
    }
}

/// LayerNorm of one row of width d.
@inline(__always)
package func layerNormRow(_ x: UnsafeMutablePointer<Float>, _ d: Int, _ weight: [Float], _ bias: [Float], into o: UnsafeMutablePointer<Float>, epsilon: Float) {
    var mean: Float = 0
    for i in 0..<d { mean += x[i] }
    mean /= Float(d)
    var variance: Float = 0
    for i in 0..<d { let c = x[i] - mean; variance += c * c }
    variance /= Float(d)
    let inv = 1 / (variance + epsilon).squareRoot()
    for i in 0..<d { o[i] = (x[i] - mean) * inv * weight[i] + bias[i] }
}

/// RMSNorm of one row of width d.
@inline(__always)
package func rmsNormRow(_ x: UnsafeMutablePointer<Float>, _ d: Int, _ weight: [Float], into o: UnsafeMutablePointer<Float>, epsilon: Float) {
    var squares: Float = 0
    for i in 0..<d { squares += x[i] * x[i] }
    let inv = 1 / (squares / Float(d) + epsilon).squareRoot()
    for i in 0..<d { o[i] = x[i] * inv * weight[i] }
}

/// Rotary position embeddings in Hugging Face's layout ("rotate half"): dimension i of a
/// head pairs with i + headDim/2, and the pair is turned by position · inverseFrequency[i].
package struct RotaryEmbedding {
    package let headDim: Int
    /// The first `rotaryDim` dimensions of each head turn; the rest pass through (Phi-4-mini,
    /// StableLM).
    package let rotaryDim: Int
    /// θ^(−2i/rotaryDim), rescaled as the checkpoint's rope_scaling says (i < rotaryDim/2).
    package let inverseFrequencies: [Double]

    package init(headDim: Int, rotaryDim: Int? = nil, theta: Double, scaling: RopeScaling?, divisors: [Float]? = nil) {
        self.headDim = headDim
        let rotaryDim = rotaryDim ?? headDim
        self.rotaryDim = rotaryDim
        let half = rotaryDim / 2
        var inv = (0..<half).map { i in 1 / pow(theta, Double(2 * i) / Double(rotaryDim)) }
        switch scaling?.type {
        case "linear":
            inv = inv.map { $0 / scaling!.factor }
        case "llama3":
            // Long wavelengths are divided by the factor, short ones kept, a blend between.
            let llama3 = scaling!
            let old = Double(llama3.originalContextLength)
            let lowWavelength = old / llama3.lowFrequencyFactor, highWavelength = old / llama3.highFrequencyFactor
            inv = inv.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / llama3.factor }
                let smooth = (old / wavelength - llama3.lowFrequencyFactor) / (llama3.highFrequencyFactor - llama3.lowFrequencyFactor)
                return (1 - smooth) * f / llama3.factor + smooth * f
            }
        default:
            break
        }
        if let divisors { inv = zip(inv, divisors).map { $0 / Double($1) } }
        inverseFrequencies = inv
    }

    /// The cosines and sines of T positions from `start`, (T, rotaryDim/2) each, computed
    /// once per forward pass and used by every layer.
    package func angles(start: Int, count T: Int, cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let half = rotaryDim / 2
        for t in 0..<T {
            // As transformers does: the angle in f32 (position · inverse frequency), then cos and sin.
            let position = Float(start + t)
            for i in 0..<half {
                let angle = position * Float(inverseFrequencies[i])
                c[t * half + i] = cosf(angle)
                s[t * half + i] = sinf(angle)
            }
        }
    }

    /// Rotates `heads` heads of each of T rows (`stride` floats apart) in place.
    package func apply(_ x: UnsafeMutablePointer<Float>, rows T: Int, stride: Int, heads: Int,
               cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let half = rotaryDim / 2
        for t in 0..<T {
            let ct = c + t * half, st = s + t * half
            for h in 0..<heads {
                let v = x + t * stride + h * headDim
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * ct[i] - b * st[i]
                    v[i + half] = b * ct[i] + a * st[i]
                }
            }
        }
    }
}
