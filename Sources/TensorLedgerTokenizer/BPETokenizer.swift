// BPE as Hugging Face `tokenizers` does it: added tokens are matched first, the rest is
// normalized and split into pieces (TokenizerPipeline.swift says how), each piece's
// symbols (byte-level characters for GPT-2, Llama 3 and Qwen2; the text's characters
// with <0xNN> byte fallback for SentencePiece-style vocabularies) are merged lowest
// rank first, and the post-processor's special tokens (BOS) go around the result.
// Decoding maps back to bytes and replaces invalid UTF-8 with U+FFFD.

import TensorLedgerCore
import TensorLedgerFormats
import Synchronization

public enum TokenizerError: TensorLedgerError, Equatable {
    case invalid(source: String, reason: String)
    case unsupported(source: String, feature: String)
    case unknownTokenID(Int, vocabularySize: Int)
    case noTokenizer(source: String)
    /// Only the slow tokenizer's vocab.json and merges.txt, not tokenizer.json.
    case slowTokenizerOnly(source: String)

    public var category: ErrorCategory {
        if case .unknownTokenID = self { return .usage }
        return .badInput
    }
    public var description: String {
        switch self {
        case .invalid(let s, let r): return "\(s): not a usable tokenizer: \(r)"
        case .unsupported(let s, let f): return "\(s): unsupported tokenizer feature: \(f) (TensorLedger runs the BPE tokenizers of GPT-2, Llama, Qwen2, SmolLM and Mistral)"
        case .unknownTokenID(let id, let n): return "token id \(id) is outside the vocabulary (0..<\(n))"
        case .noTokenizer(let s): return "\(s): no tokenizer (tokenizer.json beside the weights, or embedded in the .tlm file)"
        case .slowTokenizerOnly(let s):
            return "\(s): has vocab.json and merges.txt but no tokenizer.json; write one with "
                + "`transformers.AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR)`, which TensorLedger reads"
        }
    }
}

public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    public var special: Bool

    package init(id: Int, content: String, special: Bool) {
        self.id = id
        self.content = content
        self.special = special
    }
}

public final class BPETokenizer: @unchecked Sendable {
    /// Token strings by id: byte-level characters (GPT-2's table) or the text's own
    /// characters with "▁" for spaces (SentencePiece style), as `pipeline` says.
    public let tokens: [String]
    public let addedTokens: [AddedToken]
    package let addedTokenTrie: ByteTrie
    /// Where each added token is in `addedTokens`, by id and by content: lookups stay
    /// constant-time however many a file declares.
    private let addedByID: [Int: Int]
    private let addedByContent: [String: Int]
    public let pipeline: TokenizerPipeline
    /// (left id, right id) → (rank, merged id).
    package let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Byte → id of its token: the single byte-level character, or <0xNN> with byte
    /// fallback; -1 where there is none.
    package let byteIDs: [Int32]
    /// Ids the post-processor puts around the text (BOS before, EOS after).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]
    package let unknownID: Int32?
    /// Pieces already split, shared by the threads that tokenize at once.
    private let cache = Mutex<[String: [Int32]]>([:])
    /// Token string → id, built only when needed (character-level models, ignore_merges).
    private let idOfStorage: Mutex<[ByteString: Int]?>

    public var vocabularySize: Int { tokens.count }
    /// The most bytes one token's text can take (its spelling bounds its text).
    public let longestPieceBytes: Int

    /// The tokenizer from its parts; merges already as ids.
    package init(tokens: [String], merges: [UInt64: (rank: Int32, id: Int32)], addedTokens: [AddedToken], pipeline: TokenizerPipeline,
         source: String) throws(TokenizerError) {
        self.tokens = tokens
        self.merges = merges
        self.pipeline = pipeline
        self.addedTokens = addedTokens.sorted { $0.content.utf8.count > $1.content.utf8.count }
        addedTokenTrie = ByteTrie(addedTokens.map { (Array($0.content.utf8), $0.id) })
        longestPieceBytes = max(tokens.lazy.map(\.utf8.count).max() ?? 0, addedTokens.lazy.map(\.content.utf8.count).max() ?? 0)
        let sortedAdded = self.addedTokens
        addedByID = Dictionary(sortedAdded.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        let addedByContent = Dictionary(sortedAdded.enumerated().map { ($1.content, $0) }, uniquingKeysWith: { a, _ in a })
        self.addedByContent = addedByContent
        var byteIDs = [Int32](repeating: -1, count: 256)
        if pipeline.isByteLevel {
            for (i, t) in tokens.enumerated() {
                var scalars = t.unicodeScalars.makeIterator()
                guard let only = scalars.next(), scalars.next() == nil, let b = ByteLevel.inverse[only.value], byteIDs[Int(b)] < 0 else { continue }
                byteIDs[Int(b)] = Int32(i)
            }
        }
        var idOf: [ByteString: Int]?
        func id(of token: String) -> Int? {
            if idOf == nil { idOf = BPETokenizer.index(tokens) }
            return addedByContent[token].map { sortedAdded[$0].id } ?? idOf![ByteString(token)]
        }
        func ids(_ names: [String]) throws(TokenizerError) -> [Int] {
            var out: [Int] = []
            for n in names {
                guard let i = id(of: n) else { throw .invalid(source: source, reason: "the post-processor adds \"\(n)\", which is not a token") }
                out.append(i)
            }
            return out
        }
        prefixIDs = try ids(pipeline.prefixTokens)
        suffixIDs = try ids(pipeline.suffixTokens)
        if let unk = pipeline.unknownToken {
            guard let i = id(of: unk) else { throw .invalid(source: source, reason: "unk_token \"\(unk)\" is not a token") }
            unknownID = Int32(i)
        } else {
            unknownID = nil
        }
        if !pipeline.isByteLevel {
            if pipeline.byteFallback {
                for b in 0..<256 { byteIDs[b] = id(of: "<0x" + hex2(b) + ">").map(Int32.init) ?? -1 }
            }
            if idOf == nil { idOf = BPETokenizer.index(tokens) }
        }
        self.byteIDs = byteIDs
        idOfStorage = Mutex(idOf)
    }

    /// `merges` as pairs of token strings in rank order.
    public convenience init(tokens: [String], merges mergePairs: [(String, String)], addedTokens: [AddedToken] = [],
                            pipeline: TokenizerPipeline = TokenizerPipeline(), source: String) throws(TokenizerError) {
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
        try self.init(tokens: tokens, merges: table, addedTokens: addedTokens, pipeline: pipeline, source: source)
        idOfStorage.withLock { $0 = idOf }
    }

    package static func index(_ tokens: [String]) -> [ByteString: Int] {
        var idOf: [ByteString: Int] = [:]
        idOf.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where !t.isEmpty && idOf[ByteString(t)] == nil { idOf[ByteString(t)] = i }
        return idOf
    }

    package var idOf: [ByteString: Int] {
        idOfStorage.withLock { stored in
            if let d = stored { return d }
            let d = BPETokenizer.index(tokens)
            stored = d
            return d
        }
    }

    // MARK: Encoding

    /// The ids of `text`, with the special tokens the post-processor adds (BOS for
    /// LLaMA-family tokenizers) unless `addSpecialTokens` is false, as `tokenizers` does.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = addSpecialTokens ? prefixIDs : []
        for (k, segment) in splitOnAddedTokens(text).enumerated() {
            switch segment {
            case .added(let id): ids.append(id)
            case .text(let s):
                for piece in preTokenize(normalize(s), first: k == 0) { ids.append(contentsOf: encodePiece(piece).map(Int.init)) }
            }
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    package func normalize(_ text: String) -> String {
        var s = text
        for step in pipeline.normalizer {
            switch step {
            // The standard library's NFC (Foundation's needs ICU, which Linux builds here lack).
            case .nfc: s = String(decoding: s._nfcCodeUnits, as: UTF8.self)
            case .prepend(let p): if !s.isEmpty { s = p + s }
            case .replace(let a, let b): s = s.replacing(a, with: b)
            }
        }
        return s
    }

    /// The pieces merges never cross.
    package func preTokenize(_ s: String, first: Bool) -> [String] {
        guard !s.isEmpty else { return [] }
        switch pipeline.preTokenizer {
        case .none:
            return [s]
        case .byteLevel(let splits, let addPrefixSpace):
            var pieces = [addPrefixSpace && first && !s.hasPrefix(" ") ? " " + s : s]
            for split in splits { pieces = pieces.flatMap { PreTokenizer.split($0, split) } }
            return pieces
        case .metaspace(let r, let prepend, let split):
            var t = s.replacing(" ", with: r)
            if (prepend == .always || (prepend == .first && first)) && !t.hasPrefix(r) { t = r + t }
            return split ? PreTokenizer.splitBefore(t, r) : [t]
        }
    }

    package enum Segment { case text(String), added(Int) }

    /// Cuts the text around added tokens, longest match first, left to right.
    /// One pass over the text: at each byte the trie of added tokens gives the longest
    /// one starting there (leftmost-longest, as `tokenizers` matches), in time bounded
    /// by the longest token, whatever the number of added tokens.
    package func splitOnAddedTokens(_ text: String) -> [Segment] {
        guard !addedTokens.isEmpty, !text.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var segments: [Segment] = []
        var utf8 = text
        utf8.withUTF8 { bytes in
            var start = 0
            var i = 0
            while i < bytes.count {
                guard let (id, length) = addedTokenTrie.longestMatch(in: bytes, at: i) else { i += 1; continue }
                if start < i { segments.append(.text(String(decoding: bytes[start..<i], as: UTF8.self))) }
                segments.append(.added(id))
                i += length
                start = i
            }
            if start < bytes.count { segments.append(.text(String(decoding: bytes[start...], as: UTF8.self))) }
        }
        return segments
    }

    /// BPE on one pre-token.
    package func encodePiece(_ piece: String) -> [Int32] {
        if let hit = cache.withLock({ $0[piece] }) { return hit }
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.utf8.count)
        if pipeline.isByteLevel {
            if pipeline.ignoreMerges, let whole = idOf[ByteString(ByteLevel.encode(piece))] { return [Int32(whole)] }
            for b in piece.utf8 where byteIDs[Int(b)] >= 0 { symbols.append(byteIDs[Int(b)]) }
        } else {
            if pipeline.ignoreMerges, let whole = idOf[ByteString(piece)] { return [Int32(whole)] }
            let idOf = self.idOf
            var lastWasUnknown = false
            for u in piece.unicodeScalars {
                if let id = idOf[ByteString(String(u))] {
                    symbols.append(Int32(id))
                    lastWasUnknown = false
                    continue
                }
                let bytes = Array(String(u).utf8)
                if pipeline.byteFallback, bytes.allSatisfy({ byteIDs[Int($0)] >= 0 }) {
                    for b in bytes { symbols.append(byteIDs[Int(b)]) }
                    lastWasUnknown = false
                } else if let unknownID {
                    if !(pipeline.fuseUnknown && lastWasUnknown) { symbols.append(unknownID) }
                    lastWasUnknown = true
                }
            }
        }
        applyMerges(&symbols)
        if piece.utf8.count <= 64 { cache.withLock { $0[piece] = symbols } }
        return symbols
    }

    /// Merges the lowest-ranked adjacent pair (the leftmost among equals) until none is
    /// left, as `tokenizers` does: a queue of candidate pairs over a linked list of
    /// symbols, so a long word costs n log n, not n².
    package func applyMerges(_ symbols: inout [Int32]) {
        let n = symbols.count
        guard n > 1 else { return }
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var queue = MinHeap()
        func pair(_ i: Int) -> (rank: Int32, id: Int32)? {
            merges[UInt64(UInt32(bitPattern: symbols[i])) << 32 | UInt64(UInt32(bitPattern: symbols[next[i]]))]
        }
        for i in 0..<(n - 1) { if let m = pair(i) { queue.push(UInt64(m.rank) << 32 | UInt64(i)) } }
        while let top = queue.pop() {
            let i = Int(top & 0xFFFF_FFFF), rank = Int32(top >> 32)
            // Skip entries made stale by an earlier merge.
            guard symbols[i] >= 0, next[i] < n, let m = pair(i), m.rank == rank else { continue }
            let j = next[i]
            symbols[i] = m.id
            symbols[j] = -1
            next[i] = next[j]
            if next[i] < n { prev[next[i]] = i }
            if prev[i] >= 0, let left = pair(prev[i]) { queue.push(UInt64(left.rank) << 32 | UInt64(prev[i])) }
            if next[i] < n, let right = pair(i) { queue.push(UInt64(right.rank) << 32 | UInt64(i)) }
        }
        symbols.removeAll { $0 < 0 }
    }

    // MARK: Decoding

    /// The bytes a token stands for (the text of an added token; spaces where a
    /// SentencePiece-style token has "▁"; the byte of a <0xNN> token).
    public func bytes(of id: Int) throws(TokenizerError) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { throw .unknownTokenID(id, vocabularySize: tokens.count) }
        if let added = addedToken(id: id) { return Array(added.content.utf8) }
        switch pipeline.decoder {
        case .byteLevel:
            return ByteLevel.decode(tokens[id])
        case .sentencePiece(let replacement, _):
            let t = tokens[id]
            if pipeline.byteFallback, let b = BPETokenizer.fallbackByte(t) { return [b] }
            return Array(t.replacing(replacement, with: " ").utf8)
        }
    }

    /// A token's text alone, as tables show it (SentencePiece's leading space kept).
    public func piece(_ id: Int) throws(TokenizerError) -> String { String(decoding: try bytes(of: id), as: UTF8.self) }

    public func isSpecial(_ id: Int) -> Bool { addedToken(id: id)?.special == true }


    public func addedToken(id: Int) -> AddedToken? { addedByID[id].map { addedTokens[$0] } }
    public func addedToken(content: String) -> AddedToken? { addedByContent[content].map { addedTokens[$0] } }

    /// Decodes ids to text, skipping special tokens as `tokenizers`' decode does by default
    /// (and, for SentencePiece-style tokenizers, dropping the space the encoder put first).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) throws(TokenizerError) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecialTokens && isSpecial(id)) { bytes += try self.bytes(of: id) }
        if case .sentencePiece(_, true) = pipeline.decoder, bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The byte of a "<0xNN>" token.
    package static func fallbackByte(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

private func hex2(_ b: Int) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[b >> 4], digits[b & 15]])
}

/// A binary min-heap of packed (rank, position) keys: BPE's merge queue.
package struct MinHeap {
    private var items: [UInt64] = []

    package mutating func push(_ v: UInt64) {
        items.append(v)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    package mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && items[l] < items[smallest] { smallest = l }
                if r < items.count && items[r] < items[smallest] { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
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
