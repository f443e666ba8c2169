// Reading one safetensors file: the 8-byte header length, the JSON header, and
// validation at least as strict as Hugging Face's Rust `safetensors` (its checks, in
// its order), plus the one check it skips: a tensor named twice is an error here,
// where the official reader silently keeps the last.
//
// Layout: [u64 little-endian n][n bytes of UTF-8 JSON][data]. Offsets in the JSON are
// relative to the data section; tensors must tile it exactly, in offset order.

import TensorLedgerCore

public enum SafetensorsError: TensorLedgerError, Equatable {
    case fileTooSmall(file: String, size: Int)
    case notSafetensors(file: String, found: SniffedFormat)
    case headerTooLarge(file: String, declared: UInt64, limit: Int)
    case headerPastEnd(file: String, headerEnd: UInt64, fileSize: Int)
    case headerNotUTF8(file: String, offset: Int)
    case invalidJSON(file: String, JSONError)
    case duplicateTensor(file: String, name: String, offset: Int)
    case headerNotObject(file: String, found: String)
    case invalidMetadata(file: String, key: String, reason: String)
    case invalidEntry(file: String, tensor: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case offsetMismatch(file: String, tensor: String, expectedStart: Int, found: Range<Int>)
    case invalidOffsets(file: String, tensor: String, begin: Int, end: Int)
    case sizeOverflow(file: String, tensor: String, shape: [Int])
    case misalignedSubByte(file: String, tensor: String, bits: Int)
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, found: Range<Int>)
    case dataSizeMismatch(file: String, dataEnd: Int, fileSize: Int)
    case tensorNotFound(file: String, name: String)

    public var category: ErrorCategory {
        if case .tensorNotFound = self { return .usage }
        return .badInput
    }

    public var description: String {
        switch self {
        case .fileTooSmall(let f, let size):
            return "\(f): \(size) bytes is too small for a safetensors file (the header length alone takes 8)"
        case .notSafetensors(let f, let found):
            return "\(f): not a safetensors file: this is \(found.rawValue)"
        case .headerTooLarge(let f, let declared, let limit):
            return "\(f): header length \(declared) at byte 0 exceeds the \(limit)-byte limit"
        case .headerPastEnd(let f, let end, let size):
            return "\(f): header claims to end at byte \(end) but the file has only \(size) bytes"
        case .headerNotUTF8(let f, let offset):
            return "\(f): header is not valid UTF-8 at byte \(offset)"
        case .invalidJSON(let f, let e):
            return "\(f): header is not valid JSON: \(e.description) of the file"
        case .duplicateTensor(let f, let name, let offset):
            return "\(f): tensor \"\(name)\" is named twice (second at byte \(offset)); the official reader would silently keep the last, TensorLedger refuses"
        case .headerNotObject(let f, let found):
            return "\(f): header must be a JSON object, found \(found)"
        case .invalidMetadata(let f, let key, let reason):
            return "\(f): __metadata__ entry \"\(key)\": \(reason)"
        case .invalidEntry(let f, let t, let reason):
            return "\(f): tensor \"\(t)\": \(reason)"
        case .unknownDType(let f, let t, let d):
            return "\(f): tensor \"\(t)\": unknown dtype \"\(d)\" (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .offsetMismatch(let f, let t, let expected, let found):
            let what = found.lowerBound > expected ? "leaves a hole after byte \(expected)" : "overlaps the previous tensor, which ends at byte \(expected)"
            return "\(f): tensor \"\(t)\" at data offsets [\(found.lowerBound), \(found.upperBound)] \(what) of the data section"
        case .invalidOffsets(let f, let t, let b, let e):
            return "\(f): tensor \"\(t)\": data_offsets [\(b), \(e)] end before they begin"
        case .sizeOverflow(let f, let t, let shape):
            return "\(f): tensor \"\(t)\": shape \(shape) overflows a 64-bit byte count"
        case .misalignedSubByte(let f, let t, let bits):
            return "\(f): tensor \"\(t)\": \(bits) bits of data do not end on a byte boundary"
        case .sizeMismatch(let f, let t, let expected, let found):
            return "\(f): tensor \"\(t)\": shape and dtype need \(expected) bytes but data_offsets [\(found.lowerBound), \(found.upperBound)] hold \(found.count)"
        case .dataSizeMismatch(let f, let end, let size):
            if end < size {
                return "\(f): tensors end at byte \(end) but the file goes on to byte \(size) (\(size - end) unexplained trailing bytes)"
            }
            return "\(f): tensors end at byte \(end) but the file has only \(size) bytes (truncated by \(end - size))"
        case .tensorNotFound(let f, let name):
            return "\(f): no tensor named \"\(name)\""
        }
    }
}

/// The parsed, validated header of a safetensors file.
public struct SafetensorsHeader: Sendable {
    public static let maxHeaderSize = 100_000_000

    /// Byte length of the JSON header (the 8-byte length prefix not included).
    public var headerLength: Int
    /// Free-form string metadata from `__metadata__`, in file order.
    public var metadata: [(key: String, value: String)]
    /// Tensors in data order (sorted by offset).
    public var tensors: [TensorInfo]
    /// What the reference reader accepts silently and we report: fields of a tensor entry
    /// it does not know, once per field name.
    public var warnings: [String] = []

    /// Absolute file offset where the data section begins.
    public var dataStart: Int { 8 + headerLength }

    /// True when `bytes` begin as a safetensors file does: a little-endian header length that
    /// fits in them, then the header's `{`. For errors that say what a file is instead.
    public static func looksLikeHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count > 8 else { return false }
        let n = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        return n >= 2 && n <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{")
    }

    /// Parses and validates a whole file's bytes. Only the header is read; the data
    /// section is checked for its size alone.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(SafetensorsError) -> SafetensorsHeader {
        let size = bytes.count
        guard size >= 8 else {
            if let found = SniffedFormat.sniff(bytes) { throw .notSafetensors(file: file, found: found) }
            throw .fileTooSmall(file: file, size: size)
        }
        let n = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n <= UInt64(maxHeaderSize) else {
            if let found = SniffedFormat.sniff(bytes) { throw .notSafetensors(file: file, found: found) }
            throw .headerTooLarge(file: file, declared: n, limit: maxHeaderSize)
        }
        let headerEnd = 8 + Int(n)
        guard headerEnd <= size else {
            if let found = SniffedFormat.sniff(bytes) { throw .notSafetensors(file: file, found: found) }
            throw .headerPastEnd(file: file, headerEnd: UInt64(headerEnd), fileSize: size)
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd])
        if let bad = firstInvalidUTF8Offset(text) { throw .headerNotUTF8(file: file, offset: 8 + bad) }

        let root: JSONValue
        do {
            root = try JSON.parse(text)
        } catch {
            var e = error
            e.offset += 8
            if case .duplicateKey(let key) = e.problem { throw .duplicateTensor(file: file, name: key, offset: e.offset) }
            throw .invalidJSON(file: file, e)
        }
        guard case .object(let object) = root else { throw .headerNotObject(file: file, found: root.kindDescription) }

        var metadata: [(key: String, value: String)] = []
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(object.count)
        var unknownFields: [String: String] = [:]
        for (name, value) in object.pairs {
            // The reference reads `__metadata__` as optional: null is none.
            if name == "__metadata__", value == .null { continue }
            if name == "__metadata__" {
                guard case .object(let m) = value else {
                    throw .invalidMetadata(file: file, key: name, reason: "must be an object of strings, found \(value.kindDescription)")
                }
                for (k, v) in m.pairs {
                    guard case .string(let s) = v else {
                        throw .invalidMetadata(file: file, key: k, reason: "value must be a string, found \(v.kindDescription)")
                    }
                    metadata.append((k, s))
                }
                continue
            }
            tensors.append(try parseEntry(name: name, value: value, file: file))
            for key in value.object?.keys ?? [] where !entryFields.contains(key) && unknownFields[key] == nil { unknownFields[key] = name }
        }

        // Same order as the reference: by offsets. Ties (empty tensors) break by name
        // so the order never depends on how the header was written.
        tensors.sort { a, b in
            if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound { return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound }
            if a.dataOffsets.upperBound != b.dataOffsets.upperBound { return a.dataOffsets.upperBound < b.dataOffsets.upperBound }
            return a.name < b.name
        }
        var expectedStart = 0
        for t in tensors {
            guard t.dataOffsets.lowerBound == expectedStart else {
                throw .offsetMismatch(file: file, tensor: t.name, expectedStart: expectedStart, found: t.dataOffsets)
            }
            expectedStart = t.dataOffsets.upperBound
            guard let elements = checkedElementCount(t.shape) else {
                throw .sizeOverflow(file: file, tensor: t.name, shape: t.shape)
            }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: t.dtype.bitSize)
            if overflow { throw .sizeOverflow(file: file, tensor: t.name, shape: t.shape) }
            guard bits % 8 == 0 else { throw .misalignedSubByte(file: file, tensor: t.name, bits: bits) }
            guard bits / 8 == t.dataOffsets.count else {
                throw .sizeMismatch(file: file, tensor: t.name, expectedBytes: bits / 8, found: t.dataOffsets)
            }
        }
        let (dataEnd, overflow) = expectedStart.addingReportingOverflow(headerEnd)
        guard !overflow, dataEnd == size else {
            throw .dataSizeMismatch(file: file, dataEnd: overflow ? Int.max : dataEnd, fileSize: size)
        }
        let warnings = unknownFields.sorted { $0.key < $1.key }.map { key, tensor in
            "\(file): tensor \"\(tensor)\" has a field \"\(key)\" the format does not define; ignored, as the reference reader ignores it"
        }
        return SafetensorsHeader(headerLength: Int(n), metadata: metadata, tensors: tensors, warnings: warnings)
    }

    private static let entryFields = ["dtype", "shape", "data_offsets"]

    private static func parseEntry(name: String, value: JSONValue, file: String) throws(SafetensorsError) -> TensorInfo {
        guard case .object(let entry) = value else {
            throw .invalidEntry(file: file, tensor: name, reason: "entry must be an object, found \(value.kindDescription)")
        }
        guard let dtypeValue = entry["dtype"] else { throw .invalidEntry(file: file, tensor: name, reason: "missing field \"dtype\"") }
        guard case .string(let dtypeName) = dtypeValue else {
            throw .invalidEntry(file: file, tensor: name, reason: "dtype must be a string, found \(dtypeValue.kindDescription)")
        }
        guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(file: file, tensor: name, dtype: dtypeName) }

        guard let shapeValue = entry["shape"] else { throw .invalidEntry(file: file, tensor: name, reason: "missing field \"shape\"") }
        guard case .array(let dims) = shapeValue else {
            throw .invalidEntry(file: file, tensor: name, reason: "shape must be an array, found \(shapeValue.kindDescription)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, d) in dims.enumerated() {
            guard case .int(let v) = d, v >= 0 else {
                throw .invalidEntry(file: file, tensor: name, reason: "shape[\(i)] must be a non-negative integer, found \(describe(d))")
            }
            shape.append(v)
        }

        guard let offsetsValue = entry["data_offsets"] else {
            throw .invalidEntry(file: file, tensor: name, reason: "missing field \"data_offsets\"")
        }
        guard case .array(let offs) = offsetsValue, offs.count == 2 else {
            throw .invalidEntry(file: file, tensor: name, reason: "data_offsets must be an array of two integers, found \(describe(offsetsValue))")
        }
        guard case .int(let begin) = offs[0], case .int(let end) = offs[1], begin >= 0, end >= 0 else {
            throw .invalidEntry(file: file, tensor: name, reason: "data_offsets must be two non-negative integers, found \(describe(offsetsValue))")
        }
        guard end >= begin else { throw .invalidOffsets(file: file, tensor: name, begin: begin, end: end) }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func describe(_ v: JSONValue) -> String {
        let s = v.serialized(pretty: false)
        return s.count > 40 ? String(s.prefix(40)) + "…" : s
    }
}

/// A memory-mapped safetensors file. Opening it reads the header only; tensor bytes
/// are paged in when `data(for:)` is first read.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let header: SafetensorsHeader
    private let file: MappedFile
    private let indexByName: [String: Int]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        header = try SafetensorsHeader.parse(file.bytes, file: path)
        var index: [String: Int] = [:]
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }
        indexByName = index
    }

    public var tensors: [TensorInfo] { header.tensors }
    public var metadata: [(key: String, value: String)] { header.metadata }
    public var warnings: [String] { header.warnings }
    public var fileSize: Int { file.count }

    public func tensor(named name: String) -> TensorInfo? {
        indexByName[name].map { header.tensors[$0] }
    }

    /// The raw bytes of a tensor of this file.
    public func data(for tensor: TensorInfo) -> UnsafeRawBufferPointer {
        let start = header.dataStart + tensor.dataOffsets.lowerBound
        return UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + tensor.byteCount)])
    }

    /// The tensor's elements as `T`, in place when the data is aligned for T (a copy
    /// otherwise). T must have the dtype's size and kind: Float for F32, UInt16 for F16
    /// and BF16 bits, Int64 for I64, and so on.
    public func withElements<T, R>(of tensor: TensorInfo, as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) throws -> R {
        guard ElementType.matches(T.self, tensor.dtype) else {
            throw TensorViewError.typeMismatch(tensor: tensor.name, dtype: tensor.dtype, requested: String(describing: T.self))
        }
        let raw = data(for: tensor)
        let n = tensor.elementCount
        if Int(bitPattern: raw.baseAddress) % MemoryLayout<T>.alignment == 0 || n == 0 {
            return try body(n == 0 ? UnsafeBufferPointer(start: nil, count: 0) : raw.bindMemory(to: T.self))
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: raw.count, alignment: MemoryLayout<T>.alignment)
        defer { copy.deallocate() }
        copy.copyMemory(from: raw)
        return try body(UnsafeBufferPointer(copy.bindMemory(to: T.self)))
    }

    public func adviseSequential() { file.adviseSequential() }

    /// Drops the pages of a tensor's bytes (`bytes`: a part of them, relative to its start).
    public func releasePages(of tensor: TensorInfo, bytes: Range<Int>? = nil) {
        let start = header.dataStart + tensor.dataOffsets.lowerBound
        let part = bytes ?? 0..<tensor.byteCount
        file.release((start + part.lowerBound)..<(start + part.upperBound))
    }
}

public enum TensorViewError: TensorLedgerError, Equatable {
    case typeMismatch(tensor: String, dtype: DType, requested: String)

    public var category: ErrorCategory { .usage }
    public var description: String {
        switch self {
        case .typeMismatch(let t, let d, let r): return "tensor \"\(t)\" holds \(d.rawValue) elements, which cannot be viewed as \(r)"
        }
    }
}

/// Which Swift types view which dtypes' elements.
package enum ElementType {
    package static func matches<T>(_ type: T.Type, _ dtype: DType) -> Bool {
        switch dtype {
        case .float32: return T.self == Float.self
        case .float64: return T.self == Double.self
        case .float16, .bfloat16: return T.self == UInt16.self
        case .int8: return T.self == Int8.self
        case .uint8, .bool, .float8E5M2, .float8E4M3, .float8E8M0, .float8E4M3FNUZ, .float8E5M2FNUZ: return T.self == UInt8.self
        case .int16: return T.self == Int16.self
        case .uint16: return T.self == UInt16.self
        case .int32: return T.self == Int32.self
        case .uint32: return T.self == UInt32.self
        case .int64: return T.self == Int64.self
        case .uint64: return T.self == UInt64.self
        case .complex64: return T.self == SIMD2<Float>.self
        case .float4, .float6E2M3, .float6E3M2: return T.self == UInt8.self
        }
    }
}
