// Plain Swift twins of the C dot-product kernels: the definition of what each computes,
// and what the tests compare every CPU variant against.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

public enum ReferenceKernels {
    /// GPT-2's GELU, the tanh approximation ("gelu_new"), one value at a time.
    public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044715 * x * x * x)))
    }

    public static func dotF32(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    public static func dotF16(_ a: [UInt16], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(floatFromHalfBits($1.0)) * Double($1.1) }
    }

    public static func dotBF16(_ a: [UInt16], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(floatFromBFloat16Bits($1.0)) * Double($1.1) }
    }

    /// Σ over blocks of 32: (w scale · x scale) · Σ w·x, the block sums exact in integers.
    public static func dotQ8(_ w: [Int8], scales ws: [UInt16], _ x: [Int8], scales xs: [Float]) -> Double {
        var s = 0.0
        for b in 0..<(w.count / 32) {
            var block = 0
            for i in (32 * b)..<(32 * b + 32) { block += Int(w[i]) * Int(x[i]) }
            s += Double(floatFromHalfBits(ws[b])) * Double(xs[b]) * Double(block)
        }
        return s
    }

    public static func dotQ8Row(_ w: [Int8], scale: Float, _ x: [Int8], scales xs: [Float]) -> Double {
        var s = 0.0
        for b in 0..<(w.count / 32) {
            var block = 0
            for i in (32 * b)..<(32 * b + 32) { block += Int(w[i]) * Int(x[i]) }
            s += Double(xs[b]) * Double(block)
        }
        return s * Double(scale)
    }

    /// Activations in blocks of 32: d = max|x| / 127 in f32, q = round(x / d) halves away.
    public static func quantizeActivations(_ x: [Float]) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: x.count)
        var scales: [Float] = []
        for b in 0..<(x.count / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            let d = block.reduce(Float(0)) { max($0, abs($1)) } / 127
            scales.append(d)
            if d > 0 { for i in block.indices { q[i] = Int8((x[i] / d).rounded(.toNearestOrAwayFromZero)) } }
        }
        return (q, scales)
    }
}

/// The C kernels as the active CPU variant runs them, for tests and benchmarks.
public enum Kernels {
    public static func dotF32(_ a: [Float], _ b: [Float]) -> Float { tl_dot_f32(a, b, a.count) }
    public static func dotF16(_ a: [UInt16], _ b: [Float]) -> Float { tl_dot_f16_f32(a, b, a.count) }
    public static func dotBF16(_ a: [UInt16], _ b: [Float]) -> Float { tl_dot_bf16_f32(a, b, a.count) }
    public static func dotQ8(_ w: [Int8], scales ws: [UInt16], _ x: [Int8], scales xs: [Float]) -> Float {
        tl_dot_q8_q8(w, ws, x, xs, w.count)
    }
    public static func dotQ8Row(_ w: [Int8], scale: Float, _ x: [Int8], scales xs: [Float]) -> Float {
        tl_dot_q8row_q8(w, scale, x, xs, w.count)
    }
    public static func gelu(_ x: [Float]) -> [Float] {
        var y = x
        tl_gelu(&y, y.count)
        return y
    }

    /// Four activation vectors against one row (the prompt-processing kernel).
    public static func dotQ8x4(_ w: [Int8], scales ws: [UInt16], _ x: [[Int8]], scales xs: [[Float]]) -> [Float] {
        precondition(x.count == 4 && xs.count == 4)
        var out = [Float](repeating: 0, count: 4)
        let xp = x.map { v in v.withUnsafeBufferPointer { UnsafePointer($0.baseAddress) } }
        let sp = xs.map { v in v.withUnsafeBufferPointer { UnsafePointer($0.baseAddress) } }
        withExtendedLifetime((x, xs)) { tl_dot_q8_q8_x4(w, ws, xp, sp, w.count, &out) }
        return out
    }
    public static func quantizeActivations(_ x: [Float]) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: x.count)
        var s = [Float](repeating: 0, count: x.count / 32)
        tl_quantize_activations(x, x.count, &q, &s)
        return (q, s)
    }
}
