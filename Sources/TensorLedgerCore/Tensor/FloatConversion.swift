// Widening tensor elements to Float, and narrowing Float to the half formats.
// Narrowing rounds to nearest, ties to even, as PyTorch's `.half()` and `.bfloat16()` do.

import CKernels

@inline(__always) public func floatFromHalfBits(_ h: UInt16) -> Float {
    Float(Float16(bitPattern: h))
}

@inline(__always) public func halfBitsFromFloat(_ f: Float) -> UInt16 {
    Float16(f).bitPattern
}

@inline(__always) public func floatFromBFloat16Bits(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

@inline(__always) public func bfloat16BitsFromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

public enum TensorDataError: TensorLedgerError, Equatable {
    case notConvertible(tensor: String, dtype: DType)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .notConvertible(let t, let d):
            return "tensor \"\(t)\": dtype \(d.rawValue) cannot be read as floating-point values"
        }
    }
}

/// Widens `count` elements of `dtype` from `raw` into `out`. The caller guarantees sizes.
public func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>, tensor: String = "") throws(TensorDataError) {
    let n = out.count
    func load<T>(_ t: T.Type, _ body: (T) -> Float) {
        for i in 0..<n { out[i] = body(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
    }
    switch dtype {
    case .float32:
        UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(n * 4)]))
    case .float16:
        // In C: Swift widens each f16 through a library call on x86.
        tl_widen_f16(raw.baseAddress?.assumingMemoryBound(to: UInt16.self), n, out.baseAddress)
    case .bfloat16: load(UInt16.self) { floatFromBFloat16Bits(UInt16(littleEndian: $0)) }
    case .float64: load(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
    case .int8: load(Int8.self) { Float($0) }
    case .uint8, .bool: load(UInt8.self) { Float($0) }
    case .int16: load(Int16.self) { Float(Int16(littleEndian: $0)) }
    case .uint16: load(UInt16.self) { Float(UInt16(littleEndian: $0)) }
    case .int32: load(Int32.self) { Float(Int32(littleEndian: $0)) }
    case .uint32: load(UInt32.self) { Float(UInt32(littleEndian: $0)) }
    case .int64: load(Int64.self) { Float(Int64(littleEndian: $0)) }
    case .uint64: load(UInt64.self) { Float(UInt64(littleEndian: $0)) }
    default: throw .notConvertible(tensor: tensor, dtype: dtype)
    }
}

/// The tensor's elements as Float, in storage order.
public func floatValues(_ raw: UnsafeRawBufferPointer, info: TensorInfo) throws(TensorDataError) -> [Float] {
    var result = [Float](repeating: 0, count: info.elementCount)
    let outcome = result.withUnsafeMutableBufferPointer { out in
        Result { () throws(TensorDataError) in try convertToFloat(raw, dtype: info.dtype, into: out, tensor: info.name) }
    }
    try outcome.get()
    return result
}

/// The index of the first value that is NaN or infinite in little-endian f32, f16 or bf16
/// bytes (an all-ones exponent), or nil. Other types hold no such values.
package func firstNonFinite(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> Int? {
    switch dtype {
    case .float32:
        let n = bytes.count / 4
        for i in 0..<n where bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7F80_0000 == 0x7F80_0000 { return i }
    case .float16:
        let n = bytes.count / 2
        for i in 0..<n where bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00 { return i }
    case .bfloat16:
        let n = bytes.count / 2
        for i in 0..<n where bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80 { return i }
    default: break
    }
    return nil
}
