// ggml's block formats back to f32, as ggml (and the `gguf` package's dequantize, which
// the tests compare with value for value) defines them: the definition the runner's block
// kernels are tested against, the embedding rows it looks up, and a GGUF's values when it
// becomes a .tlm file (requantized to q8). Layouts, per block (f16 values little-endian):
//   Q4_0  d, 16 bytes of nibbles: x = (q − 8)·d; low nibbles are elements 0–15, high 16–31
//   Q4_1  d, m, 16 bytes of nibbles: x = q·d + m
//   Q5_0  d, 32 high bits, 16 bytes of nibbles: x = (q | high << 4 − 16)·d
//   Q5_1  d, m, 32 high bits, 16 bytes of nibbles: x = (q | high << 4)·d + m
//   Q8_0  d, 32 int8: x = q·d
//   Q4_K  super-block of 256: d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
//   Q5_K  as Q4_K with 32 bytes of fifth bits before the nibbles
//   Q6_K  128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, then d
//   Q2_K  16 bytes of 4-bit scale and min pairs (one per 16), 64 bytes of 2-bit values, d, dmin
//   Q3_K  32 bytes of high bits, 64 of 2-bit values, 12 of 6-bit scales (one per 16), d
//   IQ4_NL  d, 16 bytes of nibbles indexing a table of 16 values (IQ4_NL's kvalues)
//   IQ4_XS  super-block of 256: d, 2 + 4 bytes of 6-bit scales (one per 32), 128 of nibbles

import TensorLedgerCore

package enum GGMLDequantize {
    package static let supported: Set<GGMLType> = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K,
                                                   .q2_K, .q3_K, .iq4_NL, .iq4_XS]

    /// IQ4_NL's and IQ4_XS's 16 values, which their nibbles index.
    package static let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// `count` values (whole blocks) from `raw` into `out`.
    package static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int, into out: UnsafeMutablePointer<Float>) {
        let (block, bytes) = type.blockLayout
        func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float { floatFromHalfBits(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian) }
        for b in 0..<(count / block) {
            let p = raw.baseAddress! + b * bytes
            let y = out + b * block
            switch type {
            case .f32: y.pointee = Float(bitPattern: p.loadUnaligned(as: UInt32.self).littleEndian)
            case .f16: y.pointee = half(p, 0)
            case .bf16: y.pointee = floatFromBFloat16Bits(p.loadUnaligned(as: UInt16.self).littleEndian)
            case .q4_0:
                let d = half(p, 0), qs = p + 2
                for j in 0..<16 {
                    let q = qs.load(fromByteOffset: j, as: UInt8.self)
                    y[j] = Float(Int(q & 0x0F) - 8) * d
                    y[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            case .q4_1:
                let d = half(p, 0), m = half(p, 2), qs = p + 4
                for j in 0..<16 {
                    let q = qs.load(fromByteOffset: j, as: UInt8.self)
                    y[j] = Float(q & 0x0F) * d + m
                    y[j + 16] = Float(q >> 4) * d + m
                }
            case .q5_0, .q5_1:
                let d = half(p, 0), m: Float = type == .q5_1 ? half(p, 2) : 0
                let hp = type == .q5_1 ? 4 : 2
                let qh = p.loadUnaligned(fromByteOffset: hp, as: UInt32.self).littleEndian
                let qs = p + hp + 4, offset = type == .q5_0 ? 16 : 0
                for j in 0..<16 {
                    let q = qs.load(fromByteOffset: j, as: UInt8.self)
                    let h0 = Int((qh >> UInt32(j)) << 4) & 0x10, h1 = Int(qh >> UInt32(j + 12)) & 0x10
                    y[j] = Float((Int(q & 0x0F) | h0) - offset) * d + m
                    y[j + 16] = Float((Int(q >> 4) | h1) - offset) * d + m
                }
            case .q8_0:
                let d = half(p, 0)
                for j in 0..<32 { y[j] = Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            case .q4_K, .q5_K:
                let d = half(p, 0), dmin = half(p, 2), scales = p + 4
                let five = type == .q5_K
                let qh = p + 16, ql = p + (five ? 48 : 16)
                for chunk in 0..<4 {
                    let (sc1, m1) = scaleMin(chunk * 2, scales), (sc2, m2) = scaleMin(chunk * 2 + 1, scales)
                    let d1 = d * Float(sc1), dm1 = dmin * Float(m1), d2 = d * Float(sc2), dm2 = dmin * Float(m2)
                    let q = ql + chunk * 32, y0 = y + chunk * 64
                    for l in 0..<32 {
                        let byte = q.load(fromByteOffset: l, as: UInt8.self)
                        var lo = Int(byte & 0x0F), hi = Int(byte >> 4)
                        if five {
                            let h = qh.load(fromByteOffset: l, as: UInt8.self)
                            lo += Int(h >> UInt8(2 * chunk)) & 1 == 1 ? 16 : 0
                            hi += Int(h >> UInt8(2 * chunk + 1)) & 1 == 1 ? 16 : 0
                        }
                        y0[l] = d1 * Float(lo) - dm1
                        y0[l + 32] = d2 * Float(hi) - dm2
                    }
                }
            case .q6_K:
                let ql = p, qh = p + 128, sc = p + 192, d = half(p, 208)
                for half128 in 0..<2 {
                    let l0 = ql + 64 * half128, h0 = qh + 32 * half128, s0 = sc + 8 * half128, y0 = y + 128 * half128
                    for l in 0..<32 {
                        let s = l / 16
                        let a = l0.load(fromByteOffset: l, as: UInt8.self), b = l0.load(fromByteOffset: l + 32, as: UInt8.self)
                        let h = Int(h0.load(fromByteOffset: l, as: UInt8.self))
                        let q1 = (Int(a & 0x0F) | ((h >> 0) & 3) << 4) - 32, q2 = (Int(b & 0x0F) | ((h >> 2) & 3) << 4) - 32
                        let q3 = (Int(a >> 4) | ((h >> 4) & 3) << 4) - 32, q4 = (Int(b >> 4) | ((h >> 6) & 3) << 4) - 32
                        func scale(_ i: Int) -> Float { d * Float(s0.load(fromByteOffset: i, as: Int8.self)) }
                        y0[l] = scale(s) * Float(q1)
                        y0[l + 32] = scale(s + 2) * Float(q2)
                        y0[l + 64] = scale(s + 4) * Float(q3)
                        y0[l + 96] = scale(s + 6) * Float(q4)
                    }
                }
            case .q2_K:
                let d = half(p, 80), dmin = half(p, 82)
                for i in 0..<256 {
                    let sc = p.load(fromByteOffset: i / 16, as: UInt8.self)
                    let q = (p.load(fromByteOffset: 16 + 32 * (i / 128) + i % 32, as: UInt8.self) >> UInt8(2 * (i % 128 / 32))) & 3
                    y[i] = d * Float(sc & 0x0F) * Float(q) - dmin * Float(sc >> 4)
                }
            case .q3_K:
                let d = half(p, 108)
                func byte(_ o: Int) -> Int { Int(p.load(fromByteOffset: o, as: UInt8.self)) }
                for i in 0..<256 {
                    let g = i / 16
                    let scale = ((byte(96 + g % 8) >> (4 * (g / 8))) & 0x0F | ((byte(104 + g % 4) >> (2 * (g / 4))) & 3) << 4) - 32
                    let low = (byte(32 + 32 * (i / 128) + i % 32) >> (2 * (i % 128 / 32))) & 3
                    let high = (byte(i % 32) >> (i / 32)) & 1
                    y[i] = d * Float(scale) * Float(low - 4 * (1 - high))
                }
            case .iq4_NL:
                let d = half(p, 0)
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                    y[j] = d * Float(iq4Values[Int(q & 0x0F)])
                    y[j + 16] = d * Float(iq4Values[Int(q >> 4)])
                }
            case .iq4_XS:
                let d = half(p, 0), high = Int(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self).littleEndian)
                for j in 0..<8 {
                    let low = Int(p.load(fromByteOffset: 4 + j / 2, as: UInt8.self) >> UInt8(4 * (j % 2))) & 0x0F
                    let dl = d * Float((low | ((high >> (2 * j)) & 3) << 4) - 32)
                    for l in 0..<16 {
                        let q = p.load(fromByteOffset: 8 + 16 * j + l, as: UInt8.self)
                        y[32 * j + l] = dl * Float(iq4Values[Int(q & 0x0F)])
                        y[32 * j + 16 + l] = dl * Float(iq4Values[Int(q >> 4)])
                    }
                }
            default:
                preconditionFailure("dequantize(\(type.name)) is not supported; callers check `supported`")
            }
        }
    }

    /// The 6-bit scale and minimum of sub-block j of a Q4_K or Q5_K super-block.
    private static func scaleMin(_ j: Int, _ s: UnsafeRawPointer) -> (UInt8, UInt8) {
        func b(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }
}
