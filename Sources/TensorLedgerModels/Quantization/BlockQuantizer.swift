// Floats into ggml's block types (Q4_0 … Q6_K) by ggml's reference quantizer, in C
// (quantize_blocks.c): the bytes llama-quantize writes for the same values.

import TensorLedgerCore
import CKernels

package enum BlockQuantizer {
    /// `count` values of x (whole blocks of `type`) into `type`'s blocks at `out`; nil, or
    /// the value that is not finite or whose block's scale overflows f16.
    package static func quantize(_ x: UnsafePointer<Float>, count: Int, type: GGMLType, into out: UnsafeMutableRawPointer) -> QuantizationFailure? {
        precondition(WeightScheme.blockTypes.contains(type) || type == .q8_0, "\(type.name) is not written")
        return QuantizationFailure(tl_quantize_blocks(type.blockKernel!, x, count, out), in: x)
    }

    /// The blocks of `values` (whole blocks of `type`).
    package static func quantize(_ values: [Float], type: GGMLType) -> Result<[UInt8], QuantizationFailure> {
        let (size, bytes) = type.blockLayout
        var out = [UInt8](repeating: 0, count: values.count / size * bytes)
        let failure = values.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes { quantize(x.baseAddress!, count: values.count, type: type, into: $0.baseAddress!) }
        }
        return failure.map { .failure($0) } ?? .success(out)
    }
}
