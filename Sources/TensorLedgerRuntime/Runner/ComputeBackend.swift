// The seam where the forward passes meet memory and arithmetic. A family's `forward`
// composes these operations over the buffers of an InferenceState and never calls a
// kernel itself; CPUBackend does them on the cores with the C kernels. Another backend
// (Metal on Apple's unified memory, say) is a new conformance in a new target: the
// families, the loader and every command stay as they are.

import TensorLedgerCore
import TensorLedgerModels

package protocol ComputeBackend: AnyObject, Sendable {
    /// Threads the products are split across, the caller's included.
    var threads: Int { get }
    /// The kernel variant this backend's work runs.
    var kernels: KernelISA { get }

    /// Runs one forward pass's work on the calling thread, set up as the backend needs.
    func run<T>(_ body: () throws -> T) rethrows -> T

    /// y[t] = W · x[t] + bias for T inputs, then the epilogue.
    func multiply(_ w: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ T: Int, _ bias: [Float]?,
                  into y: UnsafeMutablePointer<Float>, state: InferenceState, then epilogue: ProductEpilogue)
    /// Several matrices applied to the same input (Q, K and V; gate and up).
    func multiply(_ products: [MatrixProduct], _ x: UnsafeMutablePointer<Float>, _ T: Int, state: InferenceState)
    /// y = GELU(gate) · y over T rows of `width` (GELU's tanh form).
    func geGLU(_ y: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>, _ T: Int, width: Int)
    /// y = SiLU(gate) · y over T rows of `width`.
    func swiGLU(_ y: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>, _ T: Int, width: Int)
    /// LayerNorm of T rows of width d.
    func layerNorm(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ d: Int, _ weight: [Float], _ bias: [Float], epsilon: Float,
                   into out: UnsafeMutablePointer<Float>)
    /// RMSNorm of T rows of width d.
    func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ T: Int, _ d: Int, _ weight: [Float], epsilon: Float,
                 into out: UnsafeMutablePointer<Float>)
    /// x += delta over `count` floats.
    func add(_ delta: UnsafeMutablePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int)
    /// Causal attention of T new tokens at state.position…, their keys and values cached.
    func attend(layer: Int, T: Int, _ input: AttentionInput, state: InferenceState)
}

extension ComputeBackend {
    func multiply(_ w: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ T: Int, _ bias: [Float]?,
                  into y: UnsafeMutablePointer<Float>, state: InferenceState) {
        multiply(w, x, T, bias, into: y, state: state, then: .none)
    }
}

/// What a matrix product does with its rows once they are computed (while they are
/// still in cache, and on the thread that computed them).
package enum ProductEpilogue {
    case none
    case gelu
    /// Adds y into this (T, rows) buffer: the residual stream.
    case addTo(UnsafeMutablePointer<Float>)
}

/// One matrix of a product: y[t] = W · x[t] + bias, then the epilogue.
package struct MatrixProduct {
    package var weights: WeightMatrix
    package var bias: [Float]?
    package var output: UnsafeMutablePointer<Float>   // (T, rows)
    package var epilogue: ProductEpilogue = .none
}

/// Where attention finds its inputs: T rows of queries, keys and values, each `stride`
/// floats apart (GPT-2's fused rows, or LLaMA's separate products).
package struct AttentionInput {
    package var queries: UnsafeMutablePointer<Float>, queryStride: Int
    package var keys: UnsafeMutablePointer<Float>, keyStride: Int
    package var values: UnsafeMutablePointer<Float>, valueStride: Int
    /// The scores' scale when it is not head_dim^−½.
    package var scale: Float? = nil
    /// Only the last `window` positions, the query's own included, are attended to.
    package var window: Int? = nil
    /// Scores are capped softly to cap · tanh(score / cap) before the softmax (Gemma 2).
    package var softCap: Float? = nil
}
