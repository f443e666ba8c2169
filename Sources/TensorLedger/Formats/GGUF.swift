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

public enum GGUFValue: Sendable, Equatable {
    case integer(Int64)
    case unsigned(UInt64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// A short rendering for reports: long arrays are summarized, not dumped.
    public var summary: String {
        switch self {
        case .integer(let i): return String(i)
        case .unsigned(let u): return String(u)
        case .float(let f): return formatFixed(f, 6)
        case .bool(let b): return String(b)
        case .string(let s): return s.count > 80 ? "\"" + s.prefix(77) + "…\" (\(formatCount(s.utf8.count)) bytes)" : "\"\(s)\""
        case .array(let a):
            if a.count <= 8 { return "[" + a.map(\.summary).joined(separator: ", ") + "]" }
            return "[\(a.prefix(3).map(\.summary).joined(separator: ", ")), …] (\(formatCount(a.count)) items)"
        }
    }

    /// The value in JSON; an array of more than 16 items as {"count", "first"} (its first 8).
    public var json: JSONValue {
        switch self {
        case .integer(let i): return .int(Int(i))
        case .unsigned(let u): return Int(exactly: u).map { .int($0) } ?? .double(Double(u))
        case .float(let f): return f.isFinite ? .double(f) : .string(String(f))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .array(let a):
            if a.count <= 16 { return .array(a.map(\.json)) }
            return .object(JSONObject(["count": .int(a.count), "first": .array(a.prefix(8).map(\.json))]))
        }
    }

    public var int: Int? {
        switch self {
        case .integer(let i): return Int(exactly: i)
        case .unsigned(let u): return Int(exactly: u)
        default: return nil
        }
    }

    public var number: Double? {
        switch self {
        case .float(let f): return f
        case .integer(let i): return Double(i)
        case .unsigned(let u): return Double(u)
        default: return nil
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
            guard keys.insert(key).inserted else { throw GGUFError.invalid(file: path, offset: at, reason: "key \"\(key)\" appears twice") }
            metadata.append((key, try r.value(type: try r.u32(), depth: 0)))
        }
        var alignment = 32
        if let a = metadata.first(where: { $0.0 == "general.alignment" })?.1 {
            guard let v = a.int, v > 0, v & (v - 1) == 0, v <= 1 << 20 else { throw r.fail("general.alignment \(a.summary) is not a power of two") }
            alignment = v
        }
        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let at = r.pos
            let name = try r.string()
            func bad(_ reason: String) -> GGUFError { .tensor(file: path, tensor: name, reason: reason) }
            guard index[name] == nil else { throw GGUFError.invalid(file: path, offset: at, reason: "tensor \"\(name)\" appears twice") }
            let rank = try r.u32()
            guard rank >= 1 && rank <= 4 else { throw bad("\(rank) dimensions (ggml allows 1 to 4)") }
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
            let typeID = try r.u32()
            guard let type = GGMLType(rawValue: typeID) else { throw bad("unknown ggml type \(typeID)") }
            let offset = try r.u64()
            let (block, blockBytes) = type.blockLayout
            guard dims[0] % block == 0 else { throw bad("rows of \(dims[0]) values are not a whole number of \(type.name) blocks of \(block)") }
            guard offset <= UInt64(bytes.count), Int(offset) % alignment == 0 else { throw bad("data offset \(offset) is not a multiple of the alignment \(alignment) inside the file") }
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
        guard case .array(let a)? = value(key) else { return nil }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for v in a { guard case .string(let s) = v else { return nil }; out.append(s) }
        return out
    }

    public func integers(_ key: String) -> [Int64]? {
        guard case .array(let a)? = value(key) else { return nil }
        return a.compactMap { v in
            switch v {
            case .integer(let i): return i
            case .unsigned(let u): return Int64(exactly: u)
            default: return nil
            }
        }
    }

    public func numbers(_ key: String) -> [Double]? {
        guard case .array(let a)? = value(key) else { return nil }
        return a.compactMap(\.number)
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// A tensor's bytes, from the mapping.
    public func data(for t: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping!.bytes[(dataStart + t.offset)..<(dataStart + t.offset + t.byteCount)])
    }

    /// The file mapping, which data(for:) buffers point into.
    var owner: AnyObject { mapping! }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        let path: String
        var pos = 0
        /// Estimated bytes the metadata parsed so far holds in memory: each value's size
        /// and each string's bytes. Real metadata (a 256,000-token vocabulary) takes tens of
        /// megabytes; an array of a billion bytes would take thirty times that as values.
        var charged = 0
        static let memoryLimit = 512 << 20

        func fail(_ reason: String) -> GGUFError { .invalid(file: path, offset: pos, reason: reason) }

        mutating func charge(_ n: Int) throws(GGUFError) {
            charged += n
            guard charged <= Self.memoryLimit else {
                throw fail("the metadata would take more than \(Self.memoryLimit >> 20) MiB in memory; no real model's does")
            }
        }

        mutating func take(_ n: Int) throws(GGUFError) -> UnsafeRawBufferPointer {
            guard n >= 0, n <= bytes.count - pos else { throw fail("needs \(n) bytes, \(bytes.count - pos) left") }
            defer { pos += n }
            return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
        }

        mutating func uint(_ n: Int) throws(GGUFError) -> UInt64 {
            try take(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }

        mutating func u64() throws(GGUFError) -> UInt64 { try uint(8) }
        mutating func u32() throws(GGUFError) -> UInt32 { UInt32(try uint(4)) }

        mutating func string() throws(GGUFError) -> String {
            let n = try u64()
            guard n <= UInt64(bytes.count - pos) else { throw fail("string of \(n) bytes runs past the end") }
            // ggml reads a string that is not UTF-8 as it is; so do we, with U+FFFD for bad bytes.
            try charge(Int(n))
            return String(decoding: try take(Int(n)), as: UTF8.self)
        }

        mutating func value(type: UInt32, depth: Int) throws(GGUFError) -> GGUFValue {
            func int(_ n: Int, signed: Bool) throws(GGUFError) -> GGUFValue {
                let raw = try uint(n)
                if !signed { return .unsigned(raw) }
                let shift = UInt64(64 - 8 * n)
                return .integer(Int64(bitPattern: raw << shift) >> Int64(shift))
            }
            switch type {
            case 0: return try int(1, signed: false)
            case 1: return try int(1, signed: true)
            case 2: return try int(2, signed: false)
            case 3: return try int(2, signed: true)
            case 4: return try int(4, signed: false)
            case 5: return try int(4, signed: true)
            case 6: return .float(Double(Float(bitPattern: UInt32(try uint(4)))))
            case 7:
                let b = try uint(1)
                guard b <= 1 else { throw fail("a bool of \(b)") }
                return .bool(b == 1)
            case 8: return .string(try string())
            case 9:
                guard depth < 4 else { throw fail("arrays nested too deeply") }
                let itemType = try u32()
                let n = try u64()
                // The smallest item is one byte: a count beyond the bytes left is a lie.
                guard n <= UInt64(bytes.count - pos) else { throw fail("array of \(n) items cannot fit in the \(bytes.count - pos) bytes left") }
                try charge(Int(n) * MemoryLayout<GGUFValue>.stride)
                var items: [GGUFValue] = []
                items.reserveCapacity(Int(n))
                for _ in 0..<n { items.append(try value(type: itemType, depth: depth + 1)) }
                return .array(items)
            case 10: return try int(8, signed: false)
            case 11: return try int(8, signed: true)
            case 12: return .float(Double(bitPattern: try uint(8)))
            default: throw fail("unknown value type \(type)")
            }
        }
    }
}
