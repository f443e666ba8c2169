// The .tlm container, shared by its reader and writer. The full specification is
// docs/FORMAT.md; in short:
//
//   [64-byte preamble][data: tensors and blobs, each 64-byte aligned][JSON header]
//
// The preamble gives the format version and where the header is, and carries the
// header's XXH64 and its own. The header (at the end, so conversion can stream) lists
// every tensor with its scheme, shape, offset, sizes and the XXH64 of its stored bytes.

import TensorLedgerCore
import CKernels

public enum TLMFormat {
    public static let magicString = "TLMF"
    public static let magic: [UInt8] = Array(magicString.utf8)
    public static let version: UInt32 = 1
    public static let preambleSize = 64
    public static let alignment = 64
    public static let headerSchema = "tensorledger.tlm/1"
    /// Largest header we read: a million tensors' worth, far above any real model.
    public static let maxHeaderSize = 256 << 20

    public static func align(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        xxh64(bytes)
    }
}

/// The fixed 64 bytes at the start of a .tlm file (all integers little-endian).
package struct TLMPreamble: Equatable {
    package var version: UInt32
    package var headerOffset: UInt64
    package var headerLength: UInt64
    package var headerChecksum: UInt64
    package var dataOffset: UInt64
    package var fileLength: UInt64

    /// Where each field lies: the one statement of the layout, which writing and reading
    /// share (bytes 0–3 are the magic, 48–55 reserved and zero).
    package enum Offset {
        package static let version = 4, headerOffset = 8, headerLength = 16, headerChecksum = 24, dataOffset = 32, fileLength = 40
        /// XXH64 of bytes 0..<56.
        package static let checksum = 56
    }

    package init(version: UInt32, headerOffset: UInt64, headerLength: UInt64, headerChecksum: UInt64, dataOffset: UInt64, fileLength: UInt64) {
        (self.version, self.headerOffset, self.headerLength) = (version, headerOffset, headerLength)
        (self.headerChecksum, self.dataOffset, self.fileLength) = (headerChecksum, dataOffset, fileLength)
    }

    /// The fields of the first 64 bytes of `bytes` (the caller checks the magic and the length).
    package init(decoding bytes: UnsafeRawBufferPointer) {
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        self.init(version: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: Offset.version, as: UInt32.self)),
                  headerOffset: u64(Offset.headerOffset), headerLength: u64(Offset.headerLength), headerChecksum: u64(Offset.headerChecksum),
                  dataOffset: u64(Offset.dataOffset), fileLength: u64(Offset.fileLength))
    }

    /// The checksum stored in `bytes`' preamble, and the one its first 56 bytes have.
    package static func checksums(_ bytes: UnsafeRawBufferPointer) -> (stored: UInt64, computed: UInt64) {
        (UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Offset.checksum, as: UInt64.self)),
         TLMFormat.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<Offset.checksum])))
    }

    package func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: TLMFormat.preambleSize)
        out.replaceSubrange(0..<4, with: TLMFormat.magic)
        func put<T: FixedWidthInteger>(_ v: T, at offset: Int) {
            withUnsafeBytes(of: v.littleEndian) { out.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        put(version, at: Offset.version)
        put(headerOffset, at: Offset.headerOffset)
        put(headerLength, at: Offset.headerLength)
        put(headerChecksum, at: Offset.headerChecksum)
        put(dataOffset, at: Offset.dataOffset)
        put(fileLength, at: Offset.fileLength)
        put(out.withUnsafeBytes { TLMFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<Offset.checksum])) }, at: Offset.checksum)
        return out
    }
}

/// How a region's stored bytes relate to its raw bytes.
public enum TLMEncoding: String, Sendable {
    case raw = "raw"
    case zstd = "zstd"
    /// Bytes split into planes by position within each element, then zstd.
    case zstdBytePlanes = "zstd+byteplanes"
}

/// A tensor as the .tlm header lists it.
public struct TLMTensorEntry: Sendable, Equatable {
    public var name: String
    public var category: LedgerCategory
    public var scheme: WeightScheme
    /// Stored shape. Matrices are always rows = output features, cols = input features.
    public var shape: [Int]
    /// True when the source held this matrix transposed (GPT-2's Conv1D [in, out]).
    public var transposed: Bool
    /// Query, Key and Value stacked along the rows (in that order), as GPT-2's c_attn
    /// and GPT-NeoX's query_key_value hold them; `category` is then `.query`.
    public var fusedQKV: Bool = false
    public var sourceDType: DType
    /// Offset of the stored bytes from the start of the data section.
    public var offset: Int
    public var storedBytes: Int
    public var rawBytes: Int
    public var encoding: TLMEncoding
    /// XXH64 of the stored bytes.
    public var checksum: UInt64
    /// How far the stored values are from the source's (quantized schemes only).
    public var quality: TLMQuality?

    public var elementCount: Int { shape.reduce(1, *) }
    public var rows: Int { shape.count == 2 ? shape[0] : 1 }
    public var cols: Int { shape.count == 2 ? shape[1] : elementCount }

    /// Raw layout of a quantized tensor: int8 values, then (64-byte aligned) the scales.
    public var scalesOffset: Int { TLMFormat.align(elementCount) }

    /// The raw size a tensor of this shape and scheme must have; nil on overflow.
    public static func expectedRawBytes(shape: [Int], scheme: WeightScheme) -> Int? {
        guard let n = checkedElementCount(shape) else { return nil }
        switch scheme {
        case .f32: return n.multipliedReportingOverflow(by: 4).overflow ? nil : n * 4
        case .f16, .bf16: return n.multipliedReportingOverflow(by: 2).overflow ? nil : n * 2
        case .q8, .q8Row:
            guard shape.count == 2, n < Int.max / 2 else { return nil }
            return TLMFormat.align(n) + scheme.scaleBytes(rows: shape[0], cols: shape[1])
        case .blocks(let type):
            // ggml's blocks as a GGUF holds them: a row is a whole number of blocks.
            let (size, bytes) = type.blockLayout
            guard shape.count == 2, shape[1] % size == 0 else { return nil }
            return (n / size).multipliedReportingOverflow(by: bytes).overflow ? nil : n / size * bytes
        }
    }

    package init(name: String, category: LedgerCategory, scheme: WeightScheme, shape: [Int], transposed: Bool, fusedQKV: Bool = false, sourceDType: DType, offset: Int, storedBytes: Int, rawBytes: Int, encoding: TLMEncoding, checksum: UInt64, quality: TLMQuality? = nil) {
        self.name = name
        self.category = category
        self.scheme = scheme
        self.shape = shape
        self.transposed = transposed
        self.fusedQKV = fusedQKV
        self.sourceDType = sourceDType
        self.offset = offset
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.encoding = encoding
        self.checksum = checksum
        self.quality = quality
    }
}

/// Quantization error of a tensor as recorded in the header.
public struct TLMQuality: Sendable, Equatable {
    public var rmse: Double
    public var maxAbsoluteError: Double
    /// nil when the quantization was exact.
    public var snrDecibels: Double?

    public init(_ q: QuantizationQuality) {
        rmse = q.rmse
        maxAbsoluteError = Double(q.maxAbsoluteError)
        snrDecibels = q.snrDecibels.isFinite ? q.snrDecibels : nil
    }

    public init(rmse: Double, maxAbsoluteError: Double, snrDecibels: Double?) {
        self.rmse = rmse
        self.maxAbsoluteError = maxAbsoluteError
        self.snrDecibels = snrDecibels
    }

    /// Stored to six significant digits: the last bits of an error sum differ between
    /// kernel variants, and a file should not (its bytes and size are the same on every machine).
    public var json: JSONValue {
        .object(JSONObject([
            "rmse": .double(Self.sixDigits(rmse)), "max_abs_error": .double(Self.sixDigits(maxAbsoluteError)),
            "snr_db": snrDecibels.map { .double(Self.sixDigits($0)) } ?? .null,
        ]))
    }

    static func sixDigits(_ x: Double) -> Double {
        guard x.isFinite, x != 0 else { return x }
        var exponent = 0, m = abs(x)
        while m >= 1_000_000 { m /= 10; exponent += 1 }
        while m < 100_000 { m *= 10; exponent -= 1 }
        // One correctly rounded product or quotient by an exact power of ten, so the value
        // prints as its six digits.
        var power = 1.0
        for _ in 0..<abs(exponent) { power *= 10 }
        let digits = (exponent < 0 ? abs(x) * power : abs(x) / power).rounded()
        let result = exponent < 0 ? digits / power : digits * power
        return x < 0 ? -result : result
    }
}

/// An embedded file (config.json, tokenizer.json).
public struct TLMBlob: Sendable, Equatable {
    public var name: String
    public var offset: Int
    public var storedBytes: Int
    public var rawBytes: Int
    public var encoding: TLMEncoding
    public var checksum: UInt64

    package init(name: String, offset: Int, storedBytes: Int, rawBytes: Int, encoding: TLMEncoding, checksum: UInt64) {
        self.name = name
        self.offset = offset
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.encoding = encoding
        self.checksum = checksum
    }
}

public struct TLMHeader: Sendable {
    public var createdBy: String
    public var source: String
    /// The model configuration as stored (ModelConfig.json), or null; read by `modelConfig`.
    public var config: JSONValue
    public var tensors: [TLMTensorEntry]
    public var blobs: [TLMBlob]

    package static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public var json: JSONValue {
        var o = JSONObject()
        o["schema"] = .string(TLMFormat.headerSchema)
        o["created_by"] = .string(createdBy)
        o["source"] = .string(source)
        o["config"] = config
        o["blobs"] = .array(blobs.map { b in
            .object(JSONObject([
                "name": .string(b.name), "offset": .int(b.offset), "stored_bytes": .int(b.storedBytes),
                "raw_bytes": .int(b.rawBytes), "encoding": .string(b.encoding.rawValue), "xxh64": .string(TLMHeader.hex(b.checksum)),
            ]))
        })
        o["tensors"] = .array(tensors.map { t in
            var e = JSONObject([
                "name": .string(t.name), "category": .string(t.category.identifier), "scheme": .string(t.scheme.rawValue),
                "shape": .array(t.shape.map { .int($0) }), "transposed": .bool(t.transposed), "fused_qkv": .bool(t.fusedQKV),
                "source_dtype": .string(t.sourceDType.rawValue),
                "offset": .int(t.offset), "stored_bytes": .int(t.storedBytes), "raw_bytes": .int(t.rawBytes),
                "encoding": .string(t.encoding.rawValue), "xxh64": .string(TLMHeader.hex(t.checksum)),
            ])
            if let q = t.quality { e["quality"] = q.json }
            return .object(e)
        })
        return .object(o)
    }

    package init(createdBy: String, source: String, config: JSONValue, tensors: [TLMTensorEntry], blobs: [TLMBlob]) {
        self.createdBy = createdBy
        self.source = source
        self.config = config
        self.tensors = tensors
        self.blobs = blobs
    }
}
