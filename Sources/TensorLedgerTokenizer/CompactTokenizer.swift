// The tokenizer in the compact binary form a .tlm file embeds as "tokenizer.bpe":
// token strings by id and merges as ids, so loading builds no string-keyed tables
// (tokenizer.json for GPT-2 takes ~75 ms to load; this takes a few). Layout, all
// integers little-endian (docs/FORMAT.md):
//   "TLBPE2\0\0", u32 length, the pipeline as JSON in tokenizer.json's spelling
//       (normalizer, pre_tokenizer, post_processor, decoder, and the model's flags),
//   u32 n, then n × (u32 length, UTF-8 bytes): the token strings,
//   u32 m, then m × (u32 left, u32 right, u32 merged): merges in rank order,
//   u32 a, then a × (u32 id, u8 special, u32 length, UTF-8 bytes): added tokens.
// Version 1 ("TLBPE1", GPT-2's pipeline only, a u32 of flags in place of the JSON and
// u16 lengths) is still read.

import TensorLedgerCore
import TensorLedgerFormats

extension BPETokenizer {
    /// The tokenizer a .tlm file carries: the compact form when present, else tokenizer.json.
    public static func embedded(in file: TLMFile) throws -> BPETokenizer {
        let names = Set(file.header.blobs.map(\.name))
        if names.contains("tokenizer.bpe") {
            return try fromCompact(try file.blob(named: "tokenizer.bpe"), source: file.path + " (embedded tokenizer.bpe)")
        }
        guard names.contains("tokenizer.json") else { throw TokenizerError.noTokenizer(source: file.path) }
        return try fromTokenizerJSON(try file.blob(named: "tokenizer.json"), source: file.path + " (embedded tokenizer.json)")
    }

    package static let compactMagicV1 = Array("TLBPE1\0\0".utf8)
    package static let compactMagic = Array("TLBPE2\0\0".utf8)

    /// The compact form; fails for a token or an added token longer than 2³² − 1 bytes.
    public func compactBytes() -> [UInt8] {
        var out = BPETokenizer.compactMagic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        var specialIDs: [String: Int] = [:]
        for a in addedTokens { specialIDs[a.content] = a.id }
        let (objects, flags) = pipeline.jsonObjects(specialIDs: specialIDs)
        var root = objects
        root["model"] = .object(flags)
        let pipelineJSON = Array(JSONValue.object(root).serialized(pretty: false).utf8)
        u32(pipelineJSON.count)
        out += pipelineJSON
        u32(tokens.count)
        for t in tokens { u32(t.utf8.count); out += t.utf8 }
        let ranked = merges.sorted { $0.value.rank < $1.value.rank }
        u32(ranked.count)
        for (key, m) in ranked { u32(Int(key >> 32)); u32(Int(key & 0xFFFF_FFFF)); u32(Int(m.id)) }
        u32(addedTokens.count)
        for a in addedTokens.sorted(by: { $0.id < $1.id }) {
            u32(a.id); out.append(a.special ? 1 : 0); u32(a.content.utf8.count); out += a.content.utf8
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
        // Version 1 (GPT-2's pipeline, flags for its two options, 16-bit lengths); version 2
        // (the pipeline in tokenizer.json's spelling, 32-bit lengths).
        let version: Int
        if bytes.starts(with: compactMagic) { version = 2 } else if bytes.starts(with: compactMagicV1) { version = 1 } else {
            throw fail("no TLBPE1 or TLBPE2 magic")
        }
        pos = compactMagic.count
        var pipeline = TokenizerPipeline()
        if version == 1 {
            let flags = try u32()
            pipeline.preTokenizer = .byteLevel(splits: [.gpt2], addPrefixSpace: flags & 1 != 0)
            pipeline.ignoreMerges = flags & 2 != 0
        } else {
            let json = Array(try take(try u32()))
            guard let root = try? JSON.parse(json), let o = root.object else { throw fail("the pipeline is not a JSON object") }
            pipeline = try TokenizerPipeline(tokenizerJSON: o, source: source)
        }
        let length = version == 1 ? u16 : u32
        let minLength = version == 1 ? 2 : 4
        let n = try u32()
        // Each token takes at least its length field: a count beyond that is a lie.
        guard n <= (bytes.count - pos) / minLength else { throw fail("\(n) tokens cannot fit") }
        var tokens: [String] = []
        tokens.reserveCapacity(n)
        for _ in 0..<n { tokens.append(try string(try length())) }
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
        guard addedCount <= (bytes.count - pos) / (5 + minLength) else { throw fail("\(addedCount) added tokens cannot fit") }
        var added: [AddedToken] = []
        for _ in 0..<addedCount {
            let id = try u32()
            let special = try take(1).first! != 0
            let content = try string(try length())
            guard id < n else { throw fail("added token id \(id) beyond \(n)") }
            added.append(AddedToken(id: id, content: content, special: special))
        }
        guard pos == bytes.count else { throw fail("\(bytes.count - pos) bytes after the end") }
        return try BPETokenizer(tokens: tokens, merges: merges, addedTokens: added, pipeline: pipeline, source: source)
    }
}
