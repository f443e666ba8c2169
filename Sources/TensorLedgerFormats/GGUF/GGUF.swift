// GGUF (llama.cpp's format), read strictly through a memory map: the header, the
// metadata and the tensor table are parsed with a bounded cursor that compares every
// count and length with the bytes left before using it, so a hostile count fails with an
// error naming the byte offset instead of exhausting memory. Tensor data is only mapped.
//
// Layout (little-endian): "GGUF", u32 version (2 or 3), u64 tensor count, u64 key count;
// the keys (u64-length string, u32 value type, value); per tensor a name, u32 dimension
// count, u64 dimensions (row length first), u32 ggml type, u64 offset; then the data
// section at the next multiple of general.alignment (default 32). As ggml's reader does,
// tensor data must lie in order, back to back with alignment padding.

import TensorLedgerCore

public enum GGUFError: TensorLedgerError, Equatable {
    case invalid(file: String, offset: Int, reason: String)
    case tensor(file: String, tensor: String, reason: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .invalid(let f, let o, let r): return "\(f): invalid GGUF at byte \(o): \(r)"
        case .tensor(let f, let t, let r): return "\(f): GGUF tensor \"\(t)\": \(r)"
        }
    }
}

/// The type code GGUF writes before each value.
public enum GGUFValueType: UInt32, Sendable {
    case u8 = 0, i8, u16, i16, u32, i32, f32, bool, string, array, u64, i64, f64
}

/// A metadata value with its exact GGUF type, so what is read can be written back as it was.
public enum GGUFValue: Sendable, Equatable {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), u64(UInt64), i64(Int64)
    case f32(Float), f64(Double)
    case bool(Bool)
    case string(String)
    /// The items' type is kept for an empty array.
    case array(GGUFValueType, [GGUFValue])

    public static func strings(_ a: [String]) -> GGUFValue { .array(.string, a.map(GGUFValue.string)) }
    public static func i32s(_ a: [Int32]) -> GGUFValue { .array(.i32, a.map(GGUFValue.i32)) }
    public static func f32s(_ a: [Float]) -> GGUFValue { .array(.f32, a.map(GGUFValue.f32)) }

    public var type: GGUFValueType {
        switch self {
        case .u8: .u8
        case .i8: .i8
        case .u16: .u16
        case .i16: .i16
        case .u32: .u32
        case .i32: .i32
        case .u64: .u64
        case .i64: .i64
        case .f32: .f32
        case .f64: .f64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// An integer of any width, when it fits an Int.
    public var int: Int? {
        switch self {
        case .u8(let v): Int(v)
        case .i8(let v): Int(v)
        case .u16(let v): Int(v)
        case .i16(let v): Int(v)
        case .u32(let v): Int(v)
        case .i32(let v): Int(v)
        case .u64(let v): Int(exactly: v)
        case .i64(let v): Int(v)
        default: nil
        }
    }

    /// Any number, integer or float.
    public var number: Double? {
        switch self {
        case .f32(let v): Double(v)
        case .f64(let v): v
        case .u64(let v): Double(v)
        default: int.map(Double.init)
        }
    }

    /// A short rendering for reports: long arrays are summarized, not dumped.
    public var summary: String {
        switch self {
        case .f32, .f64: return formatFixed(number!, 6)
        case .u64(let v): return String(v)
        case .bool(let b): return String(b)
        case .string(let s): return s.count > 80 ? "\"" + s.prefix(77) + "…\" (\(formatCount(s.utf8.count)) bytes)" : "\"\(s)\""
        case .array(_, let a):
            if a.count <= 8 { return "[" + a.map(\.summary).joined(separator: ", ") + "]" }
            return "[\(a.prefix(3).map(\.summary).joined(separator: ", ")), …] (\(formatCount(a.count)) items)"
        default: return String(int!)
        }
    }

    /// The value in JSON; an array of more than 16 items as {"count", "first"} (its first 8).
    public var json: JSONValue {
        switch self {
        case .f32, .f64: let f = number!; return f.isFinite ? .double(f) : .string(String(f))
        case .u64(let v): return Int(exactly: v).map { .int($0) } ?? .double(Double(v))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .array(_, let a):
            if a.count <= 16 { return .array(a.map(\.json)) }
            return .object(JSONObject(["count": .int(a.count), "first": .array(a.prefix(8).map(\.json))]))
        default: return .int(int!)
        }
    }

    /// The type code and the value, as a metadata entry stores them after its key.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: type.rawValue.littleEndian) { out += $0 }
        appendPayload(to: &out)
        return out
    }

    private func appendPayload(to out: inout [UInt8]) {
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        switch self {
        case .u8(let v): put(v)
        case .i8(let v): put(v)
        case .u16(let v): put(v)
        case .i16(let v): put(v)
        case .u32(let v): put(v)
        case .i32(let v): put(v)
        case .u64(let v): put(v)
        case .i64(let v): put(v)
        case .f32(let v): put(v.bitPattern)
        case .f64(let v): put(v.bitPattern)
        case .bool(let v): put(UInt8(v ? 1 : 0))
        case .string(let s): put(UInt64(s.utf8.count)); out += s.utf8
        case .array(let itemType, let items):
            put(itemType.rawValue)
            put(UInt64(items.count))
            for item in items { item.appendPayload(to: &out) }
        }
    }
}

public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    /// ggml's dimensions: the row length first (a PyTorch [out, in] weight is [in, out] here).
    public var dimensions: [Int]
    public var type: GGMLType
    /// From the start of the data section.
    public var offset: Int
    public var byteCount: Int
    public var elementCount: Int { dimensions.reduce(1, *) }
}

public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Where the data section starts, from the start of the file.
    public let dataStart: Int
    public let fileSize: Int
    private let mapping: MappedFile?
    private let index: [String: Int]

    /// The first four bytes of every GGUF file.
    public static let magic = Array("GGUF".utf8)

    /// Maps and validates a GGUF file (tensor data is not read).
    public static func open(_ path: String) throws -> GGUFFile {
        let file = try MappedFile(path: path)
        return try GGUFFile(file.bytes, path: path, mapping: file)
    }

    /// Validates GGUF bytes held in memory (tests and fuzzing).
    public static func parse(_ bytes: [UInt8], path: String) throws(GGUFError) -> GGUFFile {
        let outcome = bytes.withUnsafeBytes { raw in
            Result { () throws(GGUFError) -> GGUFFile in try GGUFFile(raw, path: path, mapping: nil, tensorData: false) }
        }
        return try outcome.get()
    }

    /// `tensorData`: check that every tensor's bytes lie inside `bytes` (false when only a
    /// header was given).
    private init(_ bytes: UnsafeRawBufferPointer, path: String, mapping: MappedFile?, tensorData: Bool = true) throws(GGUFError) {
        var r = Reader(bytes: bytes, path: path)
        guard bytes.count >= 4, bytes.prefix(4).elementsEqual(GGUFFile.magic) else { throw r.fail("no GGUF magic") }
        r.pos = 4
        let version = try r.u32()
        if version.byteSwapped == 2 || version.byteSwapped == 3 { throw r.fail("a big-endian GGUF file; only little-endian files are supported") }
        guard version == 2 || version == 3 else { throw r.fail("version \(version) is not 2 or 3") }
        let tensorCount = try r.u64(), keyCount = try r.u64()
        // A key takes at least 13 bytes (length, one byte, type), a tensor entry 24.
        guard keyCount <= UInt64(bytes.count / 13) else { throw r.fail("\(keyCount) metadata entries cannot fit in \(bytes.count) bytes") }
        guard tensorCount <= UInt64(bytes.count / 24) else { throw r.fail("\(tensorCount) tensors cannot fit in \(bytes.count) bytes") }
        var metadata: [(String, GGUFValue)] = []
        var keys = Set<String>()
        for _ in 0..<keyCount {
            let at = r.pos
            let key = try r.string()
            guard !key.isEmpty else { throw GGUFError.invalid(file: path, offset: at, reason: "an empty key (ggml refuses it)") }
            guard keys.insert(key).inserted else { throw GGUFError.invalid(file: path, offset: at, reason: "key \"\(key)\" appears twice") }
            metadata.append((key, try r.value(type: try r.u32())))
        }
        var alignment = 32
        if let a = metadata.first(where: { $0.0 == GGUFKey.alignment })?.1 {
            // ggml reads it as a u32 and nothing else.
            guard case .u32(let v) = a else { throw r.fail("general.alignment is stored as \(a.type), not u32") }
            guard v > 0, v & (v - 1) == 0 else { throw r.fail("general.alignment \(v) is not a power of two") }
            alignment = Int(v)
        }
        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let at = r.pos
            let name = try r.string()
            func bad(_ reason: String) -> GGUFError { .tensor(file: path, tensor: name, reason: reason) }
            // ggml keeps names in 64-byte buffers, the terminating zero included.
            guard name.utf8.count < 64 else { throw bad("a name of \(name.utf8.count) bytes (ggml allows at most 63)") }
            guard index[name] == nil else { throw GGUFError.invalid(file: path, offset: at, reason: "tensor \"\(name)\" appears twice") }
            let rank = try r.u32()
            guard rank <= 4 else { throw bad("\(rank) dimensions (ggml allows at most 4)") }
            var dims: [Int] = []
            var count = 1
            for _ in 0..<rank {
                let d = try r.u64()
                guard d <= UInt64(Int.max) else { throw bad("dimension \(d) is too large") }
                let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))
                guard !overflow, p <= 1 << 50 else { throw bad("dimensions \(dims + [Int(d)]) overflow the element count") }
                dims.append(Int(d))
                count = p
            }
            // A scalar (no dimensions) is one value, as ggml holds it.
            if dims.isEmpty { dims = [1] }
            let typeID = try r.u32()
            guard let type = GGMLType(rawValue: typeID) else { throw bad("unknown ggml type \(typeID)") }
            let offset = try r.u64()
            let (block, blockBytes) = type.blockLayout
            guard dims[0] % block == 0 else { throw bad("rows of \(dims[0]) values are not a whole number of \(type.name) blocks of \(block)") }
            // A header read alone (tests, fuzzing) has no data to be inside of; the offsets
            // must still be small enough to add up.
            guard offset <= UInt64(tensorData ? bytes.count : Int.max >> 4) else { throw bad("data offset \(offset) is past the end of the file") }
            guard offset % UInt64(alignment) == 0 else { throw bad("data offset \(offset) is not a multiple of the alignment \(alignment)") }
            index[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset), byteCount: count / block * blockBytes))
        }
        let dataStart = (r.pos + alignment - 1) / alignment * alignment
        // In order, back to back with alignment padding, inside the file.
        var expected = 0
        for t in tensors {
            guard t.offset == expected else {
                throw GGUFError.tensor(file: path, tensor: t.name, reason: "data at offset \(t.offset), expected \(expected) (tensor data must follow in order)")
            }
            expected = (t.offset + t.byteCount + alignment - 1) / alignment * alignment
            if tensorData {
                guard dataStart + t.offset + t.byteCount <= bytes.count else {
                    throw GGUFError.tensor(file: path, tensor: t.name, reason: "its \(t.byteCount) bytes at \(dataStart + t.offset) run past the end of the \(bytes.count)-byte file")
                }
            }
        }
        self.path = path
        self.version = version
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataStart = dataStart
        self.fileSize = bytes.count
        self.mapping = mapping
        self.index = index
    }

    public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    public func string(_ key: String) -> String? {
        if case .string(let s)? = value(key) { return s }
        return nil
    }

    public func strings(_ key: String) -> [String]? {
        guard case .array(.string, let a)? = value(key) else { return nil }
        return a.map { if case .string(let s) = $0 { s } else { "" } }
    }

    /// An array of integers of any width (nil when the key holds anything else; a u64
    /// beyond Int64 is left out).
    public func integers(_ key: String) -> [Int64]? {
        guard case .array(let type, let a)? = value(key), ![.f32, .f64, .bool, .string].contains(type) else { return nil }
        return a.compactMap { if case .u64(let u) = $0 { Int64(exactly: u) } else { $0.int.map(Int64.init) } }
    }

    /// An array of numbers, integer or float.
    public func numbers(_ key: String) -> [Double]? {
        guard case .array(let type, let a)? = value(key), type != .bool, type != .string else { return nil }
        return a.compactMap(\.number)
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// A tensor's bytes, from the mapping.
    public func data(for t: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping!.bytes[(dataStart + t.offset)..<(dataStart + t.offset + t.byteCount)])
    }

    /// A tensor's bytes, refused when a block's scale is NaN or infinite (ScaleCheck):
    /// what every reader of values uses. `threads`: at most how many cores check it.
    public func checkedData(for t: GGUFTensorInfo, threads: Int? = nil) throws(GGUFError) -> UnsafeRawBufferPointer {
        let bytes = data(for: t)
        if let block = ScaleCheck.firstNonFiniteBlock(bytes, type: t.type, threads: threads) {
            throw .tensor(file: path, tensor: t.name, reason: "block \(block) (values \(block * t.type.blockLayout.size)…) has a \(t.type.name) scale that is not finite (NaN or infinity)")
        }
        return bytes
    }

    /// The file mapping, which data(for:) buffers point into.
    package var owner: AnyObject { mapping! }

    package struct Reader {
        package let bytes: UnsafeRawBufferPointer
        package let path: String
        package var pos = 0
        /// Estimated bytes the metadata parsed so far holds in memory: each value's size
        /// and each string's bytes. Real metadata (a 256,000-token vocabulary) takes tens of
        /// megabytes; an array of a billion bytes would take thirty times that as values.
        package var charged = 0
        package static let memoryLimit = 512 << 20

        package func fail(_ reason: String) -> GGUFError { .invalid(file: path, offset: pos, reason: reason) }

        package mutating func charge(_ n: Int) throws(GGUFError) {
            charged += n
            guard charged <= Self.memoryLimit else {
                throw fail("the metadata would take more than \(Self.memoryLimit >> 20) MiB in memory; no real model's does")
            }
        }

        package mutating func take(_ n: Int) throws(GGUFError) -> UnsafeRawBufferPointer {
            guard n >= 0, n <= bytes.count - pos else { throw fail("needs \(n) bytes, \(bytes.count - pos) left") }
            defer { pos += n }
            return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
        }

        package mutating func uint(_ n: Int) throws(GGUFError) -> UInt64 {
            try take(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }

        package mutating func u64() throws(GGUFError) -> UInt64 { try uint(8) }
        package mutating func u32() throws(GGUFError) -> UInt32 { UInt32(try uint(4)) }

        package mutating func string() throws(GGUFError) -> String {
            let n = try u64()
            guard n <= UInt64(bytes.count - pos) else { throw fail("string of \(n) bytes runs past the end") }
            // ggml reads a string that is not UTF-8 as it is; so do we, with U+FFFD for bad bytes.
            try charge(Int(n))
            return String(decoding: try take(Int(n)), as: UTF8.self)
        }

        /// A value of `type`; arrays hold scalars or strings, as ggml's reader allows.
        package mutating func value(type: UInt32, inArray: Bool = false) throws(GGUFError) -> GGUFValue {
            func int<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T { T(truncatingIfNeeded: try uint(MemoryLayout<T>.size)) }
            switch GGUFValueType(rawValue: type) {
            case .u8: return .u8(try int(UInt8.self))
            case .i8: return .i8(try int(Int8.self))
            case .u16: return .u16(try int(UInt16.self))
            case .i16: return .i16(try int(Int16.self))
            case .u32: return .u32(try int(UInt32.self))
            case .i32: return .i32(try int(Int32.self))
            case .u64: return .u64(try int(UInt64.self))
            case .i64: return .i64(try int(Int64.self))
            case .f32: return .f32(Float(bitPattern: try int(UInt32.self)))
            case .f64: return .f64(Double(bitPattern: try int(UInt64.self)))
            // ggml reads a bool byte as it is: any byte but 0 is true.
            case .bool: return .bool(try uint(1) != 0)
            case .string: return .string(try string())
            case .array:
                guard !inArray else { throw fail("an array of arrays (ggml refuses them)") }
                let itemType = try u32()
                guard let items = GGUFValueType(rawValue: itemType), items != .array else { throw fail("an array of \(GGUFValueType(rawValue: itemType) == .array ? "arrays (ggml refuses them)" : "unknown value type \(itemType)")") }
                let n = try u64()
                // The smallest item is one byte: a count beyond the bytes left is a lie.
                guard n <= UInt64(bytes.count - pos) else { throw fail("array of \(n) items cannot fit in the \(bytes.count - pos) bytes left") }
                try charge(Int(n) * MemoryLayout<GGUFValue>.stride)
                var values: [GGUFValue] = []
                values.reserveCapacity(Int(n))
                for _ in 0..<n { values.append(try value(type: itemType, inArray: true)) }
                return .array(items, values)
            case nil: throw fail("unknown value type \(type)")
            }
        }
    }
}
