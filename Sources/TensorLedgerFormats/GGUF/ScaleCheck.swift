// Scales that are not numbers: a NaN or infinite scale in a quantized block turns its
// values into NaN, or, once requantized, into finite garbage that runs with exit status 0.
// Checksums cannot catch it (the writer may have put it there), so every quantized tensor's
// scales are checked before its values are used: GGUF blocks at load and conversion, .tlm's
// q8 scales and blocks by verify (which every load runs).

import TensorLedgerCore

package enum ScaleCheck {
    /// The first block of a GGUF tensor's bytes whose f16 scale (or minimum) is NaN or
    /// infinite; nil when all are finite or the type has no f16 scales. `threads`: at most
    /// how many cores read (the runner's `--threads`), by default the machine's, up to 8.
    package static func firstNonFiniteBlock(_ bytes: UnsafeRawBufferPointer, type: GGMLType, threads: Int? = nil) -> Int? {
        let offsets = type.f16ScaleOffsets
        guard !offsets.isEmpty else { return nil }
        let blockBytes = type.blockLayout.bytes, blocks = bytes.count / blockBytes
        // The check reads the whole tensor from memory: on one core it was a quarter of the
        // time to the first token of a 1B Q4_K_M (0.1 s of 0.4), so large tensors are split
        // over the cores.
        let threads = bytes.count >= 4 << 20 ? max(1, threads ?? min(availableCores(), 8)) : 1
        var firsts = [Int](repeating: .max, count: threads)
        firsts.withUnsafeMutableBufferPointer { firsts in
            parallelRows(blocks, threads: threads) { t, range in
                for b in range {
                    for o in offsets where isNonFiniteF16(bytes.loadUnaligned(fromByteOffset: b * blockBytes + o, as: UInt16.self)) {
                        firsts[t] = b
                        return
                    }
                }
            }
        }
        let first = firsts.min()!
        return first == .max ? nil : first
    }

    /// The first scale of a .tlm q8 (f16 per block of 32) or q8-row (f32 per row) tensor
    /// whose value is NaN or infinite, counted in blocks or rows; for ggml's blocks, the first
    /// such block.
    package static func firstNonFiniteScale(_ raw: UnsafeRawBufferPointer, shape: [Int], scheme: WeightScheme) -> Int? {
        guard scheme.isQuantized, shape.count == 2 else { return nil }
        if case .blocks(let type) = scheme { return firstNonFiniteBlock(raw, type: type) }
        let scales = UnsafeRawBufferPointer(rebasing: raw[TLMFormat.align(shape[0] * shape[1])...])
        switch scheme {
        case .q8:
            for i in 0..<(scales.count / 2) where isNonFiniteF16(scales.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) { return i }
        case .q8Row:
            for i in 0..<(scales.count / 4) where !scales.loadUnaligned(fromByteOffset: 4 * i, as: Float.self).isFinite { return i }
        default: break
        }
        return nil
    }

    /// Clears the top bit of every scale's exponent, so that none is NaN or infinite (the
    /// fuzzer's forged files, whose scales are the fuzzer's bytes).
    package static func makeFinite(_ raw: UnsafeMutableRawBufferPointer, shape: [Int], scheme: WeightScheme) {
        if case .blocks(let type) = scheme {
            let blockBytes = type.blockLayout.bytes
            for b in 0..<(raw.count / blockBytes) {
                for o in type.f16ScaleOffsets { raw[b * blockBytes + o + 1] &= 0b1011_1111 }
            }
            return
        }
        let start = TLMFormat.align(shape[0] * shape[1])
        guard scheme.isQuantized, start <= raw.count else { return }
        let width = scheme == .q8 ? 2 : 4
        for at in stride(from: start, to: raw.count - width + 1, by: width) {
            let top = at + width - 1  // little-endian: the byte with the sign and the exponent's top bits
            raw[top] &= 0b1011_1111
        }
    }

    private static func isNonFiniteF16(_ bits: UInt16) -> Bool { UInt16(littleEndian: bits) & 0x7C00 == 0x7C00 }
}

extension GGMLType {
    /// Where in a block its f16 scales (and minimums) lie, as ggml's block structs put them.
    package var f16ScaleOffsets: [Int] {
        switch self {
        case .q4_0, .q5_0, .q8_0, .iq4_NL, .iq4_XS: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        default: return []
        }
    }
}
