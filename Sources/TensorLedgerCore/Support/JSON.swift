// A strict JSON reader and writer for untrusted model files.
//
// Foundation's JSONSerialization keeps the last of two equal keys and cannot tell
// `2` from `2.0`; both facts matter for a safetensors header (duplicate tensors,
// integer shapes). This parser works on bytes, rejects duplicate keys, keeps key
// order, tells integers from other numbers, and caps nesting at 128 levels as
// serde_json does. It never allocates more than the input's size.

public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer literal (no fraction, no exponent) that fits in Int64.
    case int(Int)
    /// Any other number, including integer literals too large for Int64.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var int: Int? { if case .int(let i) = self { return i } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// A short name for error messages: "a string", "an array", ...
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a non-integer number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON object with its keys in document order and no duplicates (keys compare by
/// their bytes, as in the reference parsers).
public struct JSONObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    private var index: [ByteString: Int] = [:]

    public init() {}

    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }

    /// A report as `--json` prints it: `"schema"` first, naming its versioned shape.
    public func report(schema: String) -> JSONValue {
        var o = JSONObject(["schema": .string(schema)])
        for (k, v) in zip(keys, values) { o[k] = v }
        return .object(o)
    }

    public subscript(key: String) -> JSONValue? {
        get { index[ByteString(key)].map { values[$0] } }
        set {
            if let i = index[ByteString(key)] {
                if let newValue { values[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                index[ByteString(key)] = keys.count
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Inserts a key that must not be present yet; returns false if it was.
    package mutating func insertNew(_ key: String, _ value: JSONValue) -> Bool {
        let k = ByteString(key)
        if index[k] != nil { return false }
        index[k] = keys.count
        keys.append(key)
        values.append(value)
        return true
    }

    private mutating func remove(at i: Int) {
        keys.remove(at: i)
        values.remove(at: i)
        index = Dictionary(uniqueKeysWithValues: keys.enumerated().map { (ByteString($1), $0) })
    }

    public var pairs: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.keys.map(ByteString.init) == b.keys.map(ByteString.init) && a.values == b.values
    }
}

public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        case unexpectedEnd
        case unexpectedByte(UInt8)
        case invalidUTF8
        case invalidEscape
        case invalidNumber
        case controlCharacterInString
        case duplicateKey(String)
        case tooDeep(limit: Int)
        /// The parsed values would take more memory than the text justifies.
        case tooLarge(limit: Int)
        case trailingData
    }
    public var problem: Problem
    /// Byte offset into the parsed text.
    public var offset: Int

    public var description: String {
        switch problem {
        case .unexpectedEnd: return "JSON ends early at byte \(offset)"
        case .unexpectedByte(let b):
            let shown = (0x20..<0x7f).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "0x" + String(b, radix: 16)
            return "unexpected \(shown) at byte \(offset)"
        case .invalidUTF8: return "invalid UTF-8 at byte \(offset)"
        case .invalidEscape: return "invalid escape sequence at byte \(offset)"
        case .invalidNumber: return "invalid number at byte \(offset)"
        case .controlCharacterInString: return "unescaped control character in a string at byte \(offset)"
        case .duplicateKey(let k): return "duplicate key \"\(k)\" at byte \(offset)"
        case .tooDeep(let limit): return "nesting deeper than \(limit) levels at byte \(offset)"
        case .tooLarge(let limit):
            return "too large: its values would take more than \(limit >> 20) MiB in memory by byte \(offset)"
        case .trailingData: return "data after the JSON value at byte \(offset)"
        }
    }

    package init(problem: Problem, offset: Int) {
        self.problem = problem
        self.offset = offset
    }
}

public enum JSON {
    public static let maxDepth = 128

    /// How much memory parsed values may take: six times the text, and at least 64 MiB.
    /// Real configs, headers and tokenizers take two to five times their text; a file of
    /// a hundred million small numbers would take twenty.
    package static func memoryLimit(forTextOf count: Int) -> Int { max(64 << 20, 6 * count) }

    /// Parses one JSON value; surrounding whitespace is allowed, anything else is not.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(JSONError) in try JSON.parse(raw) } }
        return try result.get()
    }

    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

/// Returns the offset of the first byte that breaks UTF-8, or nil if all is valid.
public func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 { i += 1; continue }
        let len: Int
        var minScalar: UInt32
        var scalar: UInt32
        switch b0 {
        case 0xC2...0xDF: len = 2; scalar = UInt32(b0 & 0x1F); minScalar = 0x80
        case 0xE0...0xEF: len = 3; scalar = UInt32(b0 & 0x0F); minScalar = 0x800
        case 0xF0...0xF4: len = 4; scalar = UInt32(b0 & 0x07); minScalar = 0x10000
        default: return i
        }
        if i + len > n { return i }
        for k in 1..<len {
            let b = bytes[i + k]
            if b & 0xC0 != 0x80 { return i }
            scalar = scalar << 6 | UInt32(b & 0x3F)
        }
        if scalar < minScalar || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return i }
        i += len
    }
    return nil
}

package struct JSONParser {
    package let bytes: UnsafeRawBufferPointer
    package var pos = 0
    package var depth = 0
    /// Estimated bytes the values parsed so far hold, against `memoryLimit`.
    package var charged = 0
    package let memoryLimit: Int

    package init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        memoryLimit = JSON.memoryLimit(forTextOf: bytes.count)
    }

    /// Counts `n` bytes of memory, refusing before the values outgrow the limit. A value
    /// counts twice its size (arrays grow by doubling); a string or key also its bytes.
    private mutating func charge(_ n: Int) throws(JSONError) {
        charged += n
        if charged > memoryLimit { throw fail(.tooLarge(limit: memoryLimit)) }
    }

    package mutating func parseDocument() throws(JSONError) -> JSONValue {
        if let bad = firstInvalidUTF8Offset(bytes) { throw JSONError(problem: .invalidUTF8, offset: bad) }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if pos != bytes.count { throw JSONError(problem: .trailingData, offset: pos) }
        return value
    }

    private func fail(_ p: JSONError.Problem) -> JSONError { JSONError(problem: p, offset: pos) }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONError) -> JSONValue {
        guard pos < bytes.count else { throw fail(.unexpectedEnd) }
        try charge(2 * MemoryLayout<JSONValue>.stride)
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return .array(try parseArray())
        case UInt8(ascii: "\""):
            let string = try parseString()
            try charge(string.utf8.count)
            return .string(string)
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail(.unexpectedByte(bytes[pos]))
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw fail(.unexpectedEnd) }
        for k in 0..<n where bytes[pos + k] != word.utf8Start[k] {
            pos += k
            throw fail(.unexpectedByte(bytes[pos]))
        }
        pos += n
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        if depth > JSON.maxDepth { throw fail(.tooDeep(limit: JSON.maxDepth)) }
    }

    private mutating func parseObject() throws(JSONError) -> JSONObject {
        try enter()
        pos += 1
        var object = JSONObject()
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") {
            pos += 1; depth -= 1
            return object
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[pos] == UInt8(ascii: "\"") else { throw fail(.unexpectedByte(bytes[pos])) }
            let keyOffset = pos
            let key = try parseString()
            try charge(key.utf8.count + 48)  // the key, its copy in the index, the index entry
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[pos] == UInt8(ascii: ":") else { throw fail(.unexpectedByte(bytes[pos])) }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            if !object.insertNew(key, value) {
                throw JSONError(problem: .duplicateKey(key), offset: keyOffset)
            }
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[pos] {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "}"): pos += 1; depth -= 1; return object
            default: throw fail(.unexpectedByte(bytes[pos]))
            }
        }
    }

    private mutating func parseArray() throws(JSONError) -> [JSONValue] {
        try enter()
        pos += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") {
            pos += 1; depth -= 1
            return array
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[pos] {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "]"): pos += 1; depth -= 1; return array
            default: throw fail(.unexpectedByte(bytes[pos]))
            }
        }
    }

    private mutating func parseString() throws(JSONError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail(.controlCharacterInString) }
            pos += 1
        }
        guard pos < bytes.count else { throw fail(.unexpectedEnd) }
        var out = Array(bytes[start..<pos])
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail(.controlCharacterInString) }
            if b != UInt8(ascii: "\\") {
                out.append(b); pos += 1; continue
            }
            pos += 1
            guard pos < bytes.count else { throw fail(.unexpectedEnd) }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                    else { throw fail(.invalidEscape) }
                    pos += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail(.invalidEscape) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail(.invalidEscape)
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                pos -= 1
                throw fail(.invalidEscape)
            }
        }
        throw fail(.unexpectedEnd)
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail(.unexpectedEnd) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.invalidEscape)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber) }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < bytes.count, isDigit(bytes[pos]) { throw fail(.invalidNumber) }
        } else {
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber) }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber) }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw JSONError(problem: .invalidNumber, offset: start) }
        return .double(d)
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}

// MARK: - Writing

extension JSONValue {
    /// Serializes with keys in insertion order; `pretty` indents by two spaces.
    public func serialized(pretty: Bool = true) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite {
                // Keep integral doubles visibly non-integer: 1.0 stays "1.0".
                if d == d.rounded(), abs(d) < 1e15 { out += String(Int(d)) + ".0" } else { out += "\(d)" }
            } else {
                out += "null"
            }
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            let scalarOnly = a.allSatisfy { if case .object = $0 { return false }; if case .array = $0 { return false }; return true }
            if !pretty || scalarOnly {
                out += "["
                for (i, v) in a.enumerated() {
                    if i > 0 { out += pretty ? ", " : "," }
                    v.write(to: &out, pretty: pretty, indent: indent)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (i, v) in a.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                v.write(to: &out, pretty: pretty, indent: indent + 2)
                out += i + 1 < a.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let o):
            if o.count == 0 { out += "{}"; return }
            out += pretty ? "{\n" : "{"
            for (i, (k, v)) in o.pairs.enumerated() {
                if pretty { out += String(repeating: " ", count: indent + 2) }
                JSONValue.writeString(k, to: &out)
                out += pretty ? ": " : ":"
                v.write(to: &out, pretty: pretty, indent: indent + 2)
                if i + 1 < o.count { out += "," }
                if pretty { out += "\n" }
            }
            if pretty { out += String(repeating: " ", count: indent) }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Types that report themselves as JSON for `--json` output.
public protocol JSONRepresentable {
    var json: JSONValue { get }
}

extension JSONObject {
    public init(uniqueKeysWithValues pairs: [(String, JSONValue)]) {
        self.init()
        for (k, v) in pairs { self[k] = v }
    }
}
