// Building a BPETokenizer from Hugging Face's tokenizer.json or from a GGUF file's
// tokenizer.ggml.* arrays (llama.cpp's vocab files).

import TensorLedgerCore
import TensorLedgerFormats

extension BPETokenizer {
    /// A tokenizer.json file. (TokenizerSource.load takes any file that holds a tokenizer.)
    public static func load(_ path: String) throws -> BPETokenizer {
        try fromTokenizerJSON(try readWholeFile(path, limit: 256 << 20), source: path)
    }

    public static func fromTokenizerJSON(_ bytes: [UInt8], source: String) throws(TokenizerError) -> BPETokenizer {
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch {
            if bytes.starts(with: Array("#version".utf8)) {
                throw .invalid(source: source, reason: "this is a merges.txt of the slow tokenizer; give the tokenizer.json that `save_pretrained` writes")
            }
            throw .invalid(source: source, reason: "not valid JSON: \(error)")
        }
        guard let o = root.object else { throw .invalid(source: source, reason: "top level is not an object") }
        guard let model = o["model"]?.object else {
            if o.count > 0 && o.values.allSatisfy({ $0.int != nil }) {
                throw .invalid(source: source, reason: "this is a vocab.json (token → id) of the slow tokenizer; give the tokenizer.json that `save_pretrained` writes")
            }
            if o["architectures"] != nil || o["model_type"] != nil {
                throw .invalid(source: source, reason: "this is a model's config.json, not a tokenizer.json")
            }
            throw .invalid(source: source, reason: "missing \"model\"")
        }
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

    /// The tokenizer of a GGUF file's tokenizer.ggml.* keys: "gpt2" (byte-level BPE with its
    /// merges; tokenizer.ggml.pre names the split) or "llama" (SentencePiece-style, whose
    /// merges are derived from the scores as transformers' converter derives them).
    public static func fromGGUF(_ gguf: GGUFFile, source: String) throws -> BPETokenizer {
        let model = gguf.string(GGUFKey.Tokenizer.model.key)
        guard var tokens = gguf.strings(GGUFKey.Tokenizer.tokens.key) else {
            throw TokenizerError.invalid(source: source, reason: "missing tokenizer.ggml.tokens")
        }
        var types = gguf.integers(GGUFKey.Tokenizer.tokenType.key) ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw TokenizerError.invalid(source: source, reason: "\(types.count) token types for \(tokens.count) tokens")
        }
        // Unused tokens at the end pad the vocabulary to the embedding's rows: not tokens.
        while types.last == 5 { types.removeLast(); tokens.removeLast() }
        // Token types: 1 normal, 2 unknown, 3 control (special), 4 user-defined, 6 byte.
        func type(_ i: Int) -> Int64 { types.isEmpty ? 1 : types[i] }
        var pipeline = TokenizerPipeline()
        var merges: [(String, String)] = []
        var scoreMerges: [UInt64: (rank: Int32, id: Int32)]?
        var added: [AddedToken] = []
        let pre = gguf.string(GGUFKey.Tokenizer.pre.key) ?? "gpt-2"
        /// The merges as written ("left right"), split at the first space after the first
        /// character as llama.cpp does.
        func writtenMerges() throws(TokenizerError) -> [(String, String)] {
            guard let list = gguf.strings(GGUFKey.Tokenizer.merges.key) else {
                throw TokenizerError.invalid(source: source, reason: "missing tokenizer.ggml.merges")
            }
            return try list.enumerated().map { (i, m) throws(TokenizerError) in
                guard let space = m.unicodeScalars.dropFirst().firstIndex(of: " ") else {
                    throw TokenizerError.invalid(source: source, reason: "merge \(i) \"\(m)\" is not two tokens")
                }
                return (String(m.unicodeScalars[..<space]), String(m.unicodeScalars[m.unicodeScalars.index(after: space)...]))
            }
        }
        switch model {
        case "gpt2":
            merges = try writtenMerges()
            guard let splits = TokenizerPipeline.ggufPreTokenizers[pre] else {
                throw TokenizerError.unsupported(source: source, feature: "tokenizer.ggml.pre \(pre), whose split TensorLedger does not implement yet (it knows \(TokenizerPipeline.ggufPreTokenizers.keys.sorted().joined(separator: ", ")))")
            }
            pipeline.preTokenizer = .byteLevel(splits: splits, addPrefixSpace: false)
            pipeline.ignoreMerges = TokenizerPipeline.ggufIgnoringMerges.contains(pre)
            // Qwen2's tokenizer.json normalizes to NFC; llama.cpp does not, and is wrong on decomposed
            // text. Qwen3.5's does not (its vectors, from tokenizers, keep "e\u{301}" as two tokens).
            if ["qwen2", "deepseek-r1-qwen"].contains(pre) { pipeline.normalizer = [.nfc] }
            for i in tokens.indices where type(i) == 3 || type(i) == 4 {
                added.append(AddedToken(id: i, content: String(decoding: ByteLevel.decode(tokens[i]), as: UTF8.self), special: type(i) == 3))
            }
        case "llama", "gemma4":
            // SentencePiece-style: "▁" for spaces, byte fallback. Llama's merges are derived from
            // the scores; Gemma 4's are written out, and it puts no space in front.
            if model == "gemma4" {
                merges = try writtenMerges()
            } else {
                let scores = Array((gguf.numbers(GGUFKey.Tokenizer.scores.key) ?? []).prefix(tokens.count))
                guard scores.count == tokens.count else {
                    throw TokenizerError.invalid(source: source, reason: "\(scores.count) scores for \(tokens.count) tokens")
                }
                scoreMerges = BPETokenizer.mergesFromScores(tokens: tokens, scores: scores, isNormal: { type($0) == 1 })
            }
            let prefix = gguf.value(GGUFKey.Tokenizer.addSpacePrefix.key).map { $0 == .bool(true) } ?? (model == "llama")
            pipeline.normalizer = (prefix ? [.prepend("▁")] : []) + [.replace(" ", "▁")]
            pipeline.preTokenizer = .none
            // llama.cpp drops the leading space when it added one.
            pipeline.decoder = .sentencePiece(replacement: "▁", stripsLeadingSpace: prefix)
            pipeline.byteFallback = true
            pipeline.fuseUnknown = true
            pipeline.unknownToken = tokens.indices.first { type($0) == 2 }.map { tokens[$0] }
            for i in tokens.indices where type(i) == 3 || type(i) == 4 {
                added.append(AddedToken(id: i, content: tokens[i], special: type(i) == 3))
            }
        default:
            throw TokenizerError.unsupported(source: source, feature: "tokenizer.ggml.model \(model ?? "missing")")
        }
        let addedContent = Dictionary(added.map { ($0.id, $0.content) }, uniquingKeysWith: { a, _ in a })
        func special(_ key: GGUFKey.Tokenizer) -> String? {
            guard let id = gguf.value(key.key)?.int, id >= 0, id < tokens.count else { return nil }
            return addedContent[id] ?? tokens[id]
        }
        let addBOS = gguf.value(GGUFKey.Tokenizer.addBOSToken.key).map { $0 == .bool(true) } ?? (model == "llama")
        // GLM's vocabularies have a BOS token that llama.cpp never adds, whatever the keys say.
        if addBOS, model != "gpt2" || !TokenizerPipeline.ggufWithoutBOS.contains(pre), let bos = special(.bosTokenID) { pipeline.prefixTokens = [bos] }
        if gguf.value(GGUFKey.Tokenizer.addEOSToken.key) == .bool(true), let eos = special(.eosTokenID) { pipeline.suffixTokens = [eos] }
        if let scoreMerges { return try BPETokenizer(tokens: tokens, merges: scoreMerges, addedTokens: added, pipeline: pipeline, source: source) }
        return try BPETokenizer(tokens: tokens, merges: merges, addedTokens: added, pipeline: pipeline, source: source)
    }

    /// SentencePiece BPE has scores, not merges: every way to split a token into two tokens
    /// is a merge, ranked by the token's score (highest first; ties in id order), and within a
    /// token by the ids of its parts, as transformers' SentencePieceExtractor ranks them.
    /// The splits of a token are found in one pass from each end (the tokens that begin it,
    /// the tokens that end it), so a 40,000-character token costs 40,000 steps, not their square.
    package static func mergesFromScores(tokens: [String], scores: [Double], isNormal: (Int) -> Bool) -> [UInt64: (rank: Int32, id: Int32)] {
        let utf8 = tokens.map { Array($0.utf8) }
        let forward = ByteTrie(utf8.enumerated().map { ($1, $0) })
        let backward = ByteTrie(utf8.enumerated().map { (Array($1.reversed()), $0) })
        let order = tokens.indices.filter(isNormal).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        var rank: Int32 = 0
        var endingAt: [Int: Int] = [:]
        for i in order where utf8[i].count > 1 {
            let bytes = utf8[i], n = bytes.count
            endingAt.removeAll(keepingCapacity: true)
            Array(bytes.reversed()).withUnsafeBufferPointer { r in
                backward.forEachMatch(in: r, at: 0) { length, id in if length < n { endingAt[n - length] = id } }
            }
            var pairs: [UInt64] = []
            var merged = i  // the first token of these bytes, should the vocabulary repeat one
            bytes.withUnsafeBufferPointer { f in
                forward.forEachMatch(in: f, at: 0) { length, id in
                    if length == n { merged = id } else if let right = endingAt[length] { pairs.append(UInt64(id) << 32 | UInt64(right)) }
                }
            }
            for key in pairs.sorted() where table[key] == nil {
                table[key] = (rank, Int32(merged))
                rank += 1
            }
        }
        return table
    }
}

extension BPETokenizer {
    /// This tokenizer as a Hugging Face tokenizer.json (merges in the pair form).
    public func tokenizerJSON() -> [UInt8] {
        // Added tokens are in the vocabulary too, under their content: `tokenizers` gives an
        // added token the vocabulary's id for it, and appends a new id when it has none.
        var vocab = JSONObject()
        var addedContent: [Int: String] = [:]
        for a in addedTokens { addedContent[a.id] = a.content }
        for (i, t) in tokens.enumerated() { vocab[addedContent[i] ?? t] = .int(i) }
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

extension TokenizerPipeline {
    /// llama.cpp's `tokenizer.ggml.pre` names (llama-vocab.cpp) whose regular expressions
    /// are splits implemented here; a GGUF naming another is refused by that name.
    package static let ggufPreTokenizers: [String: [Split]] = {
        var table: [String: [Split]] = [:]
        let gpt2 = ["default", "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "jina-es", "jina-de",
                    "gigachat", "jina-v2-es", "jina-v2-de", "jina-v1-en", "jina-v2-code", "roberta-bpe", "a.x-4.0", "mellum",
                    "modern-bert", "exaone4"]
        // Llama 3's regex: digits in runs of up to three.
        let llama3 = ["llama3", "llama-v3", "llama-bpe", "smaug-bpe", "dbrx", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                      "lfm2", "jina-v5-nano", "chatglm-bpe", "glm4", "glm5"]
        // The same with single digits.
        let qwen2 = ["qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan", "solar-open", "kormo", "f2llmv2", "grok-2",
                     // BailingMoE's regex is Qwen2's written with possessive quantifiers, which change no match.
                     "bailingmoe", "bailingmoe2", "llada-moe"]
        // Single digits first, then GPT-2's regex.
        let digitsThenGPT2 = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2"]
        for name in gpt2 { table[name] = [.gpt2] }
        for name in llama3 { table[name] = [.llama3(maxDigits: 3)] }
        for name in qwen2 { table[name] = [.llama3(maxDigits: 1)] }
        for name in digitsThenGPT2 { table[name] = [.digits(individual: true), .gpt2] }
        table["qwen35"] = [.llama3(maxDigits: 1, marks: true)]
        table["seed-coder"] = [.llama3(maxDigits: 1, symbolNewlines: false)]
        table["ufakzeka"] = [.llama3(maxDigits: 1, contractions: false)]
        table["falcon"] = [.punctuation, .gpt2, .regex("[0-9][0-9][0-9]")]
        // DeepSeek's lists, regex by regex as llama-vocab.cpp has them.
        table["deepseek-llm"] = ["[\r\n]", RegexSplits.deepseekLetters, #"\s?[!-/:-~！-／：-～‘-‟　-。]+"#, #"\s+$"#, RegexSplits.deepseekCJK,
                                 #"\p{N}+"#].map { .regex($0) }
        table["deepseek-coder"] = ["[\r\n]", #"\s?\p{L}+"#, #"\s?\p{P}+"#, RegexSplits.deepseekCJK, #"\p{N}"#].map { .regex($0) }
        table["tekken"] = [.regex(RegexSplits.tekkenWords)]
        for name in ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"] { table[name] = [.regex(RegexSplits.gpt4oWords)] }
        // MiniCPM 5: digits in threes, then Qwen2's regex with digit runs whole, which on
        // pieces of at most three digits is Llama 3's.
        table["minicpm5"] = [.regex(#"\p{N}{1,3}"#), .llama3(maxDigits: 3)]
        table["laguna"] = [.regex(#"[^\n]+|[\n]+"#), .llama3(maxDigits: 1)]
        for name in ["bloom", "poro-chat", "gpt3-finnish"] { table[name] = [.regex(RegexSplits.bloomWords)] }
        table["viking"] = [.regex(RegexSplits.bloomWords), .regex(#"\p{N}"#)]
        for name in ["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"] {
            table[name] = [#"\p{N}{1,3}"#, "[一-龥぀-ゟ゠-ヿ]+", RegexSplits.deepseekV3Words].map { .regex($0) }
        }
        return table
    }()

    /// The names whose pieces are looked up whole before any merge (tokenizers' `ignore_merges`,
    /// which Llama 3's tokenizer.json sets): as llama.cpp's llama-vocab.cpp sets it, so not
    /// smaug-bpe or dbrx. Without it "ĠViệt" comes out as three tokens where Llama 3 has one.
    package static let ggufIgnoringMerges: Set<String> = ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                                                          "midm-2.0", "lfm2", "jina-v5-nano", "glm4", "glm5", "tekken", "minicpm5"]

    /// The names whose BOS token llama.cpp never adds (GLM's).
    package static let ggufWithoutBOS: Set<String> = ["chatglm-bpe", "glm4", "glm5"]
}
