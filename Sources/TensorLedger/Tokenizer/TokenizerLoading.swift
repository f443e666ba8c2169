// Building a BPETokenizer from Hugging Face's tokenizer.json or from a GGUF file's
// tokenizer.ggml.* arrays (llama.cpp's vocab files).

extension BPETokenizer {
    public static func load(_ path: String) throws -> BPETokenizer {
        let bytes = try readWholeFile(path, limit: 256 << 20)
        if bytes.starts(with: Array("GGUF".utf8)) { return try fromGGUF(bytes, source: path) }
        return try fromTokenizerJSON(bytes, source: path)
    }

    public static func fromTokenizerJSON(_ bytes: [UInt8], source: String) throws(TokenizerError) -> BPETokenizer {
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch { throw .invalid(source: source, reason: "not valid JSON: \(error)") }
        guard let o = root.object else { throw .invalid(source: source, reason: "top level is not an object") }
        guard let model = o["model"]?.object else { throw .invalid(source: source, reason: "missing \"model\"") }
        if let type = model["type"]?.string, type != "BPE" { throw .unsupported(source: source, feature: "model type \(type)") }
        let pipeline = try TokenizerPipeline(tokenizerJSON: o, source: source)

        guard let vocab = model["vocab"]?.object else { throw .invalid(source: source, reason: "missing model.vocab") }
        var added: [AddedToken] = []
        for (i, v) in (o["added_tokens"]?.array ?? []).enumerated() {
            guard let a = v.object, case .int(let id)? = a["id"], let content = a["content"]?.string else {
                throw .invalid(source: source, reason: "added_tokens[\(i)] needs an integer id and a content string")
            }
            added.append(AddedToken(id: id, content: content, special: a["special"]?.bool ?? false))
        }
        var maxID = -1
        for v in vocab.values {
            guard case .int(let id) = v, id >= 0, id < 10_000_000 else { throw .invalid(source: source, reason: "vocab ids must be integers below 10,000,000") }
            maxID = max(maxID, id)
        }
        for a in added {
            guard a.id >= 0, a.id < 10_000_000 else { throw .invalid(source: source, reason: "added token id \(a.id) is out of range") }
            maxID = max(maxID, a.id)
        }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (t, v) in vocab.pairs {
            let id = v.int!
            guard tokens[id].isEmpty else { throw .invalid(source: source, reason: "id \(id) is given to two tokens") }
            tokens[id] = t
        }
        for a in added where tokens[a.id].isEmpty { tokens[a.id] = pipeline.isByteLevel ? ByteLevel.encode(a.content) : a.content }

        var merges: [(String, String)] = []
        let list = model["merges"]?.array ?? []
        merges.reserveCapacity(list.count)
        for (i, m) in list.enumerated() {
            switch m {
            case .string(let s):
                // The older form: "a b" (a token never holds a plain space in byte-level BPE).
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .invalid(source: source, reason: "merge \(i) \"\(s)\" is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            case .array(let pair) where pair.count == 2:
                guard let a = pair[0].string, let b = pair[1].string else { throw .invalid(source: source, reason: "merge \(i) is not a pair of strings") }
                merges.append((a, b))
            default:
                throw .invalid(source: source, reason: "merge \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return try BPETokenizer(tokens: tokens, merges: merges, addedTokens: added, pipeline: pipeline, source: source)
    }

    public static func fromGGUF(_ bytes: [UInt8], source: String) throws -> BPETokenizer {
        let gguf = try GGUFFile.parse(bytes, path: source)
        guard gguf.string("tokenizer.ggml.model") == "gpt2" else {
            throw TokenizerError.unsupported(source: source, feature: "tokenizer.ggml.model \(gguf.string("tokenizer.ggml.model") ?? "missing")")
        }
        guard let tokens = gguf.strings("tokenizer.ggml.tokens"), let mergeList = gguf.strings("tokenizer.ggml.merges") else {
            throw TokenizerError.invalid(source: source, reason: "missing tokenizer.ggml.tokens or tokenizer.ggml.merges")
        }
        let types = gguf.integers("tokenizer.ggml.token_type") ?? []
        var merges: [(String, String)] = []
        for (i, m) in mergeList.enumerated() {
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw TokenizerError.invalid(source: source, reason: "merge \(i) \"\(m)\" is not two tokens") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        guard types.isEmpty || types.count == tokens.count else {
            throw TokenizerError.invalid(source: source, reason: "\(types.count) token types for \(tokens.count) tokens")
        }
        // Token type 3 is "control" (special) in llama.cpp's vocabulary.
        let added = types.enumerated().compactMap { i, t in t == 3 ? AddedToken(id: i, content: String(decoding: ByteLevel.decode(tokens[i]), as: UTF8.self), special: true) : nil }
        return try BPETokenizer(tokens: tokens, merges: merges, addedTokens: added, source: source)
    }
}

extension BPETokenizer {
    /// This tokenizer as a Hugging Face tokenizer.json (merges in the pair form).
    public func tokenizerJSON() -> [UInt8] {
        var vocab = JSONObject()
        let addedIDs = Set(addedTokens.map(\.id))
        for (i, t) in tokens.enumerated() where !addedIDs.contains(i) { vocab[t] = .int(i) }
        var pairs: [(Int32, Int32, Int32)] = []  // rank, left, right
        for (key, m) in merges { pairs.append((m.rank, Int32(key >> 32), Int32(key & 0xFFFF_FFFF))) }
        pairs.sort { $0.0 < $1.0 }
        var specialIDs: [String: Int] = [:]
        for a in addedTokens { specialIDs[a.content] = a.id }
        let (pipelineObjects, flags) = pipeline.jsonObjects(specialIDs: specialIDs)
        var model = JSONObject([
            "type": .string("BPE"), "dropout": .null, "continuing_subword_prefix": .null, "end_of_word_suffix": .null,
        ])
        for (k, v) in zip(flags.keys, flags.values) { model[k] = v }
        model["vocab"] = .object(vocab)
        model["merges"] = .array(pairs.map { .array([.string(tokens[Int($0.1)]), .string(tokens[Int($0.2)])]) })
        var root = JSONObject([
            "version": .string("1.0"),
            "truncation": .null,
            "padding": .null,
            "added_tokens": .array(addedTokens.sorted { $0.id < $1.id }.map { a in
                .object(JSONObject(["id": .int(a.id), "content": .string(a.content), "single_word": .bool(false), "lstrip": .bool(false),
                                    "rstrip": .bool(false), "normalized": .bool(false), "special": .bool(a.special)]))
            }),
        ])
        for (k, v) in zip(pipelineObjects.keys, pipelineObjects.values) { root[k] = v }
        root["model"] = .object(model)
        return Array(JSONValue.object(root).serialized(pretty: false).utf8)
    }
}
