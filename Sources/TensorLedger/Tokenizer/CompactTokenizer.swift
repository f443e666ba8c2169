// The tokenizer in the compact binary form a .tlm file embeds as "tokenizer.bpe":
// token strings by id and merges as ids, so loading builds no string-keyed tables
// (tokenizer.json for GPT-2 takes ~75 ms to load; this takes a few). Layout, all
// integers little-endian (docs/FORMAT.md):
//   "TLBPE1\0\0", u32 flags (1: add_prefix_space, 2: ignore_merges),
//   u32 n, then n × (u16 length, UTF-8 bytes): the byte-level token strings,
//   u32 m, then m × (u32 left, u32 right, u32 merged): merges in rank order,
//   u32 a, then a × (u32 id, u8 special, u16 length, UTF-8 bytes): added tokens.

extension BPETokenizer {
    /// The tokenizer a .tlm file carries: the compact form when present, else tokenizer.json.
    public static func embedded(in file: TLMFile) throws -> BPETokenizer {
        let names = Set(file.header.blobs.map(\.name))
        if names.contains("tokenizer.bpe") {
            return try fromCompact(try file.blob(named: "tokenizer.bpe"), source: file.path + " (embedded tokenizer.bpe)")
        }
        guard names.contains("tokenizer.json") else { throw ModelLoadError.noTokenizer(source: file.path) }
        return try fromTokenizerJSON(try file.blob(named: "tokenizer.json"), source: file.path + " (embedded tokenizer.json)")
    }

    static let compactMagic = Array("TLBPE1\0\0".utf8)

    public func compactBytes() -> [UInt8] {
        var out = BPETokenizer.compactMagic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { out += $0 } }
        u32((addPrefixSpace ? 1 : 0) | (ignoreMerges ? 2 : 0))
        u32(tokens.count)
        for t in tokens {
            let b = Array(t.utf8.prefix(65535))
            u16(b.count)
            out += b
        }
        let ranked = merges.sorted { $0.value.rank < $1.value.rank }
        u32(ranked.count)
        for (key, m) in ranked { u32(Int(key >> 32)); u32(Int(key & 0xFFFF_FFFF)); u32(Int(m.id)) }
        u32(addedTokens.count)
        for a in addedTokens.sorted(by: { $0.id < $1.id }) {
            let b = Array(a.content.utf8.prefix(65535))
            u32(a.id); out.append(a.special ? 1 : 0); u16(b.count); out += b
        }
        return out
    }

    public static func fromCompact(_ bytes: [UInt8], source: String) throws(TokenizerError) -> BPETokenizer {
        var pos = 0
        func fail(_ r: String) -> TokenizerError { .invalid(source: source, reason: "compact tokenizer at byte \(pos): \(r)") }
        func take(_ n: Int) throws(TokenizerError) -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - pos else { throw fail("needs \(n) bytes, \(bytes.count - pos) left") }
            defer { pos += n }
            return bytes[pos..<(pos + n)]
        }
        func u32() throws(TokenizerError) -> Int { try take(4).reversed().reduce(0) { $0 << 8 | Int($1) } }
        func u16() throws(TokenizerError) -> Int { try take(2).reversed().reduce(0) { $0 << 8 | Int($1) } }
        func string(_ n: Int) throws(TokenizerError) -> String {
            guard let s = String(validating: try take(n), as: UTF8.self) else { throw fail("a string is not UTF-8") }
            return s
        }
        guard bytes.starts(with: compactMagic) else { throw fail("no TLBPE1 magic") }
        pos = compactMagic.count
        let flags = try u32()
        let n = try u32()
        // Each token takes at least its 2-byte length: a count beyond that is a lie.
        guard n <= (bytes.count - pos) / 2 else { throw fail("\(n) tokens cannot fit") }
        var tokens: [String] = []
        tokens.reserveCapacity(n)
        for _ in 0..<n { tokens.append(try string(try u16())) }
        let m = try u32()
        guard m <= (bytes.count - pos) / 12 else { throw fail("\(m) merges cannot fit") }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(m)
        for rank in 0..<m {
            let a = try u32(), b = try u32(), c = try u32()
            guard a < n, b < n, c < n else { throw fail("merge \(rank) names a token id beyond \(n)") }
            let key = UInt64(a) << 32 | UInt64(b)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(c)) }
        }
        let addedCount = try u32()
        guard addedCount <= (bytes.count - pos) / 7 else { throw fail("\(addedCount) added tokens cannot fit") }
        var added: [AddedToken] = []
        for _ in 0..<addedCount {
            let id = try u32()
            let special = try take(1).first! != 0
            let content = try string(try u16())
            guard id < n else { throw fail("added token id \(id) beyond \(n)") }
            added.append(AddedToken(id: id, content: content, special: special))
        }
        guard pos == bytes.count else { throw fail("\(bytes.count - pos) bytes after the end") }
        return BPETokenizer(tokens: tokens, merges: merges, addedTokens: added, addPrefixSpace: flags & 1 != 0, ignoreMerges: flags & 2 != 0)
    }
}
