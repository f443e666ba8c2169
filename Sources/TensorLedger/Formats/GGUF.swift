// A bounded reader for GGUF metadata (llama.cpp's format), enough to take a vocabulary
// from a GGUF file. Every length is compared with the bytes left before anything is
// allocated, so a hostile count fails with an error instead of exhausting memory.

public enum GGUFError: TensorLedgerError, Equatable {
    case invalid(file: String, offset: Int, reason: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .invalid(let f, let o, let r): return "\(f): invalid GGUF at byte \(o): \(r)"
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
}

public struct GGUFFile: Sendable {
    public var version: UInt32
    public var tensorCount: UInt64
    public var metadata: [(key: String, value: GGUFValue)]

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

    public static func parse(_ bytes: [UInt8], path: String) throws(GGUFError) -> GGUFFile {
        var r = Reader(bytes: bytes, path: path)
        guard bytes.count >= 4, bytes[0..<4].elementsEqual(Array("GGUF".utf8)) else { throw r.fail("no GGUF magic") }
        r.pos = 4
        let version = try r.u32()
        guard version == 2 || version == 3 else { throw r.fail("version \(version) is not 2 or 3") }
        let tensors = try r.u64()
        let count = try r.u64()
        // Each entry takes at least 12 bytes (key length, value type).
        guard count <= UInt64(bytes.count / 12) else { throw r.fail("\(count) metadata entries cannot fit in \(bytes.count) bytes") }
        var metadata: [(String, GGUFValue)] = []
        for _ in 0..<count {
            let key = try r.string()
            let type = try r.u32()
            metadata.append((key, try r.value(type: type, depth: 0)))
        }
        return GGUFFile(version: version, tensorCount: tensors, metadata: metadata)
    }

    struct Reader {
        let bytes: [UInt8]
        let path: String
        var pos = 0

        func fail(_ reason: String) -> GGUFError { .invalid(file: path, offset: pos, reason: reason) }

        mutating func take(_ n: Int) throws(GGUFError) -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - pos else { throw fail("needs \(n) bytes, \(bytes.count - pos) left") }
            defer { pos += n }
            return bytes[pos..<(pos + n)]
        }

        mutating func u64() throws(GGUFError) -> UInt64 {
            try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }

        mutating func u32() throws(GGUFError) -> UInt32 {
            try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }

        mutating func string() throws(GGUFError) -> String {
            let n = try u64()
            guard n <= UInt64(bytes.count - pos) else { throw fail("string of \(n) bytes runs past the end") }
            let raw = try take(Int(n))
            guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not UTF-8") }
            return s
        }

        mutating func value(type: UInt32, depth: Int) throws(GGUFError) -> GGUFValue {
            func int(_ n: Int, signed: Bool) throws(GGUFError) -> GGUFValue {
                let raw = try take(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
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
            case 6:
                guard case .unsigned(let b) = try int(4, signed: false) else { throw fail("unreachable") }
                return .float(Double(Float(bitPattern: UInt32(b))))
            case 7: return .bool(try take(1).first! != 0)
            case 8: return .string(try string())
            case 9:
                guard depth < 4 else { throw fail("arrays nested too deeply") }
                let itemType = try u32()
                let n = try u64()
                // The smallest item is one byte: a count beyond the bytes left is a lie.
                guard n <= UInt64(bytes.count - pos) else { throw fail("array of \(n) items cannot fit in the \(bytes.count - pos) bytes left") }
                var items: [GGUFValue] = []
                items.reserveCapacity(Int(n))
                for _ in 0..<n { items.append(try value(type: itemType, depth: depth + 1)) }
                return .array(items)
            case 10: return try int(8, signed: false)
            case 11: return try int(8, signed: true)
            case 12:
                guard case .unsigned(let b) = try int(8, signed: false) else { throw fail("unreachable") }
                return .float(Double(bitPattern: b))
            default: throw fail("unknown value type \(type)")
            }
        }
    }
}
