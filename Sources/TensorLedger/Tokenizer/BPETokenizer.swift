// Byte-level BPE as Hugging Face `tokenizers` does it for GPT-2: added tokens are
// matched first, the rest is split by the GPT-2 pre-tokenizer, each piece's UTF-8
// bytes are mapped to printable characters, and merges apply lowest rank first.
// Decoding maps back to bytes and replaces invalid UTF-8 with U+FFFD.

public enum TokenizerError: TensorLedgerError, Equatable {
    case invalid(source: String, reason: String)
    case unsupported(source: String, feature: String)
    case unknownTokenID(Int, vocabularySize: Int)

    public var category: ErrorCategory {
        if case .unknownTokenID = self { return .usage }
        return .badInput
    }
    public var description: String {
        switch self {
        case .invalid(let s, let r): return "\(s): not a usable tokenizer: \(r)"
        case .unsupported(let s, let f): return "\(s): unsupported tokenizer feature: \(f) (TensorLedger runs byte-level BPE tokenizers, as GPT-2's)"
        case .unknownTokenID(let id, let n): return "token id \(id) is outside the vocabulary (0..<\(n))"
        }
    }
}

public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    public var special: Bool
}

public final class BPETokenizer: @unchecked Sendable {
    /// Token strings in byte-level form, by id.
    public let tokens: [String]
    public let addedTokens: [AddedToken]
    public let addPrefixSpace: Bool
    /// (left id, right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Byte → id of its single-character token, or -1.
    let byteIDs: [Int32]
    let ignoreMerges: Bool
    private var cache: [String: [Int32]] = [:]
    private let cacheLock = Lock()
    /// Token string → id, built only when needed (ignore_merges); encoding runs on ids.
    private var idOfStorage: [ByteString: Int]?

    public var vocabularySize: Int { tokens.count }

    /// The tokenizer from its parts; merges already as ids.
    init(tokens: [String], merges: [UInt64: (rank: Int32, id: Int32)], addedTokens: [AddedToken], addPrefixSpace: Bool, ignoreMerges: Bool) {
        self.tokens = tokens
        self.merges = merges
        var byteIDs = [Int32](repeating: -1, count: 256)
        for (i, t) in tokens.enumerated() {
            var scalars = t.unicodeScalars.makeIterator()
            guard let only = scalars.next(), scalars.next() == nil, let b = ByteLevel.inverse[only.value], byteIDs[Int(b)] < 0 else { continue }
            byteIDs[Int(b)] = Int32(i)
        }
        self.byteIDs = byteIDs
        self.addedTokens = addedTokens.sorted { $0.content.utf8.count > $1.content.utf8.count }
        self.addPrefixSpace = addPrefixSpace
        self.ignoreMerges = ignoreMerges
    }

    /// `merges` as pairs of token strings in rank order.
    public convenience init(tokens: [String], merges mergePairs: [(String, String)], addedTokens: [AddedToken] = [],
                            addPrefixSpace: Bool = false, ignoreMerges: Bool = false, source: String) throws(TokenizerError) {
        let idOf = BPETokenizer.index(tokens)
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(mergePairs.count)
        for (rank, (a, b)) in mergePairs.enumerated() {
            guard let ia = idOf[ByteString(a)], let ib = idOf[ByteString(b)] else {
                throw .invalid(source: source, reason: "merge \(rank) (\"\(a)\" \"\(b)\") names a token not in the vocabulary")
            }
            guard let merged = idOf[ByteString(a + b)] else {
                throw .invalid(source: source, reason: "merge \(rank) makes \"\(a + b)\", which is not in the vocabulary")
            }
            let key = UInt64(ia) << 32 | UInt64(ib)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        self.init(tokens: tokens, merges: table, addedTokens: addedTokens, addPrefixSpace: addPrefixSpace, ignoreMerges: ignoreMerges)
        idOfStorage = idOf
    }

    static func index(_ tokens: [String]) -> [ByteString: Int] {
        var idOf: [ByteString: Int] = [:]
        idOf.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where !t.isEmpty && idOf[ByteString(t)] == nil { idOf[ByteString(t)] = i }
        return idOf
    }

    var idOf: [ByteString: Int] {
        cacheLock.withLock {
            if let d = idOfStorage { return d }
            let d = BPETokenizer.index(tokens)
            idOfStorage = d
            return d
        }
    }

    // MARK: Encoding

    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in splitOnAddedTokens(text) {
            switch segment {
            case .added(let id): ids.append(id)
            case .text(let s):
                var s = s
                if addPrefixSpace && ids.isEmpty && !s.hasPrefix(" ") { s = " " + s }
                for piece in GPT2PreTokenizer.split(s) { ids.append(contentsOf: encodePiece(piece).map(Int.init)) }
            }
        }
        return ids
    }

    enum Segment { case text(String), added(Int) }

    /// Cuts the text around added tokens, longest match first, left to right.
    func splitOnAddedTokens(_ text: String) -> [Segment] {
        guard !addedTokens.isEmpty, !text.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var start = 0
        var i = 0
        outer: while i < bytes.count {
            for t in addedTokens {
                let c = Array(t.content.utf8)
                if !c.isEmpty, i + c.count <= bytes.count, bytes[i..<(i + c.count)].elementsEqual(c) {
                    if start < i { segments.append(.text(String(decoding: bytes[start..<i], as: UTF8.self))) }
                    segments.append(.added(t.id))
                    i += c.count
                    start = i
                    continue outer
                }
            }
            i += 1
        }
        if start < bytes.count { segments.append(.text(String(decoding: bytes[start...], as: UTF8.self))) }
        return segments
    }

    /// BPE on one pre-token.
    func encodePiece(_ piece: String) -> [Int32] {
        if let hit = cacheLock.withLock({ cache[piece] }) { return hit }
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.utf8.count)
        for b in piece.utf8 where byteIDs[Int(b)] >= 0 { symbols.append(byteIDs[Int(b)]) }
        if ignoreMerges, let whole = idOf[ByteString(ByteLevel.encode(piece))] {
            symbols = [Int32(whole)]
        } else {
            // Merge the lowest-ranked adjacent pair, all its occurrences left to right, until none is left.
            while symbols.count > 1 {
                var best: (rank: Int32, id: Int32) = (Int32.max, -1)
                for j in 0..<(symbols.count - 1) {
                    if let m = merges[UInt64(UInt32(symbols[j])) << 32 | UInt64(UInt32(symbols[j + 1]))], m.rank < best.rank {
                        best = m
                    }
                }
                guard best.id >= 0 else { break }
                var merged: [Int32] = []
                merged.reserveCapacity(symbols.count)
                var j = 0
                while j < symbols.count {
                    if j + 1 < symbols.count, let m = merges[UInt64(UInt32(symbols[j])) << 32 | UInt64(UInt32(symbols[j + 1]))], m.rank == best.rank {
                        merged.append(m.id)
                        j += 2
                    } else {
                        merged.append(symbols[j])
                        j += 1
                    }
                }
                symbols = merged
            }
        }
        if piece.utf8.count <= 64 { cacheLock.withLock { cache[piece] = symbols } }
        return symbols
    }

    // MARK: Decoding

    /// The bytes a token stands for (the text of an added token).
    public func bytes(of id: Int) throws(TokenizerError) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { throw .unknownTokenID(id, vocabularySize: tokens.count) }
        if let added = addedTokens.first(where: { $0.id == id }) { return Array(added.content.utf8) }
        return ByteLevel.decode(tokens[id])
    }

    public func isSpecial(_ id: Int) -> Bool { addedTokens.contains { $0.id == id && $0.special } }

    /// Decodes ids to text, skipping special tokens as `tokenizers`' decode does by default.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) throws(TokenizerError) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecialTokens && isSpecial(id)) { bytes += try self.bytes(of: id) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Text from a stream of token ids, emitted as soon as it is whole: bytes of a
/// character split across tokens wait for the rest; invalid bytes become U+FFFD.
public struct StreamingDecoder {
    private var pending: [UInt8] = []
    public init() {}

    public mutating func append(_ bytes: [UInt8]) -> String {
        pending += bytes
        // Keep back a trailing sequence that is incomplete but could still become valid.
        var keep = 0
        let n = pending.count
        for back in 1...min(3, max(n, 1)) where n - back >= 0 && n > 0 {
            let b = pending[n - back]
            if b & 0xC0 == 0x80 { continue }  // continuation byte: look further back
            let need = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : (b >= 0xC0 ? 2 : 1))
            if need > back && b >= 0xC2 && b <= 0xF4 { keep = back }
            break
        }
        let out = String(decoding: pending[0..<(n - keep)], as: UTF8.self)
        pending.removeFirst(n - keep)
        return out
    }

    /// Whatever is left, with U+FFFD for an unfinished character.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
