// What a BPE tokenizer does around its merges, as tokenizer.json describes it: the
// normalizer, the pre-tokenizer, the special tokens the post-processor adds, and the
// decoder. Read from tokenizer.json's own objects and written back in the same spelling
// (the .tlm compact tokenizer stores them that way too), so the schema is declared once.
//
// Only the forms real checkpoints use are accepted; anything else is an error naming
// it, never a silent fallback to GPT-2's behaviour:
//   GPT-2        ByteLevel (its regex)
//   Llama 3      Split(Llama 3's regex) + ByteLevel without regex, ignore_merges
//   Qwen2        NFC + Split(Qwen2's regex) + ByteLevel without regex
//   Qwen3.5      the same with Qwen3.5's regex (combining marks join letter runs)
//   Falcon       Punctuation(contiguous) + GPT-2's regex + Split(three digits)
//   DeepSeek     LLM's, Coder's and V3's lists of Split regexes (RegexSplits.swift)
//   Tekken, GPT-4o   one Split regex each, words by letter case (RegexSplits.swift)
//   SmolLM       Digits(individual) + ByteLevel
//   Llama 2, TinyLlama, Mistral   Prepend("▁") + Replace(" ", "▁") normalizer, or a
//                Metaspace pre-tokenizer; byte_fallback; BOS from TemplateProcessing

import TensorLedgerCore
import TensorLedgerFormats

public struct TokenizerPipeline: Sendable, Equatable {
    public enum NormalizerStep: Sendable, Equatable {
        case nfc
        case prepend(String)
        case replace(String, String)
    }

    /// A split of the text into pieces that merges never cross.
    public enum Split: Sendable, Equatable {
        /// GPT-2's regex (contractions, letters, digits, symbols, whitespace).
        case gpt2
        /// Llama 3's and Qwen2's regex: case-insensitive contractions, a letter run with one
        /// leading non-letter, digit runs of at most `maxDigits`, symbols with trailing newlines;
        /// with `marks`, combining marks count as letters (Qwen3.5's `[\p{L}\p{M}]+`); without
        /// `contractions` (Ufakzeka's) or the newlines after symbols (Seed-Coder's).
        case llama3(maxDigits: Int, marks: Bool = false, contractions: Bool = true, symbolNewlines: Bool = true)
        /// `Digits`: each digit alone, or runs of digits.
        case digits(individual: Bool)
        /// `Punctuation` (contiguous): each run of punctuation a piece (Falcon's first split).
        case punctuation
        /// `Split(regex, isolated)` with one of the patterns `RegexSplits` scans (Falcon's digit
        /// triples, DeepSeek's lists): each match a piece, the text between kept whole.
        case regex(String)
    }

    public enum PrependScheme: String, Sendable, Equatable {
        case always, first, never
    }

    public enum PreTokenizer: Sendable, Equatable {
        /// Splits in order, then each piece's UTF-8 bytes as byte-level characters.
        case byteLevel(splits: [Split], addPrefixSpace: Bool)
        /// Spaces become the replacement character ("▁"), prepended as the scheme says;
        /// `split` cuts before each replacement character.
        case metaspace(replacement: String, prepend: PrependScheme, split: Bool)
        /// The normalized text is one piece (Llama 2's tokenizer.json).
        case none
    }

    public enum Decoder: Sendable, Equatable {
        /// Byte-level characters back to bytes.
        case byteLevel
        /// "▁" back to spaces, <0xNN> tokens to bytes, and one leading space dropped where
        /// the decoder says so (Llama 2's Strip, a Metaspace that prepends; not Gemma's).
        case sentencePiece(replacement: String, stripsLeadingSpace: Bool)
    }

    public var normalizer: [NormalizerStep] = []
    public var preTokenizer: PreTokenizer = .byteLevel(splits: [.gpt2], addPrefixSpace: false)
    public var decoder: Decoder = .byteLevel
    /// Characters missing from the vocabulary become their bytes' <0xNN> tokens.
    public var byteFallback = false
    public var unknownToken: String?
    public var fuseUnknown = false
    /// A piece that is itself a token is not merged up from its characters (Llama 3).
    public var ignoreMerges = false
    /// Special tokens the post-processor puts before and after the text (BOS, EOS).
    public var prefixTokens: [String] = []
    public var suffixTokens: [String] = []

    public init() {}

    /// Symbols are byte-level characters (GPT-2's table), not the text's own characters.
    public var isByteLevel: Bool {
        if case .byteLevel = preTokenizer { return true }
        return false
    }

    // MARK: Reading tokenizer.json

    /// From tokenizer.json's top-level object (its `model` object for the BPE flags).
    package init(tokenizerJSON o: JSONObject, source: String) throws(TokenizerError) {
        func unsupported(_ what: String) -> TokenizerError { .unsupported(source: source, feature: what) }
        func type(_ v: JSONValue) -> String { v.object?["type"]?.string ?? "?" }
        func string(_ v: JSONValue?) -> String? {
            // Replace patterns are {"String": "…"} objects (or a bare string in some writers).
            v?.string ?? v?.object?["String"]?.string
        }

        // Normalizer.
        func readNormalizer(_ v: JSONValue) throws(TokenizerError) -> [NormalizerStep] {
            guard v != .null else { return [] }
            switch type(v) {
            case "Sequence":
                var steps: [NormalizerStep] = []
                for n in v.object?["normalizers"]?.array ?? [] { steps += try readNormalizer(n) }
                return steps
            case "NFC": return [.nfc]
            case "Prepend":
                guard let p = v.object?["prepend"]?.string else { throw unsupported("a Prepend normalizer without its string") }
                return [.prepend(p)]
            case "Replace":
                guard let pattern = v.object?["pattern"]?.object?["String"]?.string, let content = v.object?["content"]?.string else {
                    throw unsupported("a Replace normalizer with a regex pattern")
                }
                return [.replace(pattern, content)]
            default: throw unsupported("normalizer \(type(v))")
            }
        }
        normalizer = try readNormalizer(o["normalizer"] ?? .null)

        // Pre-tokenizer.
        func preTokenizers(_ v: JSONValue) throws(TokenizerError) -> [JSONValue] {
            guard v != .null else { return [] }
            if type(v) == "Sequence" { return v.object?["pretokenizers"]?.array ?? [] }
            return [v]
        }
        var splits: [Split] = []
        var byteLevel: (regex: Bool, prefixSpace: Bool)?
        var metaspace: PreTokenizer?
        for p in try preTokenizers(o["pre_tokenizer"] ?? .null) {
            let po = p.object ?? JSONObject()
            guard byteLevel == nil, metaspace == nil else { throw unsupported("a pre-tokenizer after \(type(p))'s byte mapping") }
            switch type(p) {
            case "Split":
                guard po["behavior"]?.string == "Isolated", po["invert"]?.bool != true else {
                    throw unsupported("Split with behavior \(po["behavior"]?.string ?? "?")\(po["invert"]?.bool == true ? ", inverted" : "")")
                }
                guard let regex = po["pattern"]?.object?["Regex"]?.string else { throw unsupported("Split on a plain string") }
                guard let split = TokenizerPipeline.knownPatterns[regex] else {
                    throw unsupported("Split pattern \(regex) (known: GPT-2's, Llama 3's, Qwen2's and its variants, Falcon's, DeepSeek's, Tekken's and GPT-4o's)")
                }
                splits.append(split)
            case "Digits":
                splits.append(.digits(individual: po["individual_digits"]?.bool ?? false))
            case "Punctuation":
                guard po["behavior"]?.string == "Contiguous" else { throw unsupported("Punctuation with behavior \(po["behavior"]?.string ?? "Isolated")") }
                splits.append(.punctuation)
            case "ByteLevel":
                byteLevel = (po["use_regex"]?.bool ?? true, po["add_prefix_space"]?.bool ?? false)
            case "Metaspace":
                let scheme = po["prepend_scheme"]?.string ?? ((po["add_prefix_space"]?.bool ?? true) ? "always" : "never")
                guard let replacement = po["replacement"]?.string, let prepend = PrependScheme(rawValue: scheme) else {
                    throw unsupported("a Metaspace pre-tokenizer with prepend_scheme \(scheme)")
                }
                metaspace = .metaspace(replacement: replacement, prepend: prepend, split: po["split"]?.bool ?? true)
            default:
                throw unsupported("pre_tokenizer \(type(p))")
            }
        }
        if let byteLevel {
            preTokenizer = .byteLevel(splits: splits + (byteLevel.regex ? [.gpt2] : []), addPrefixSpace: byteLevel.prefixSpace)
        } else if let metaspace {
            guard splits.isEmpty else { throw unsupported("a Split before a Metaspace pre-tokenizer") }
            preTokenizer = metaspace
        } else {
            guard splits.isEmpty else { throw unsupported("a Split without a ByteLevel pre-tokenizer") }
            preTokenizer = .none
        }

        // The model's flags.
        let model = o["model"]?.object ?? JSONObject()
        byteFallback = model["byte_fallback"]?.bool ?? false
        unknownToken = model["unk_token"]?.string
        fuseUnknown = model["fuse_unk"]?.bool ?? false
        ignoreMerges = model["ignore_merges"]?.bool ?? false
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], v != .null, v != .string("") { throw unsupported(key) }
        }
        if let dropout = model["dropout"], dropout != .null, dropout.number != 0 { throw unsupported("BPE dropout") }

        // Post-processor: which special tokens surround the text.
        func postProcessor(_ v: JSONValue) throws(TokenizerError) {
            switch type(v) {
            case "Sequence": for p in v.object?["processors"]?.array ?? [] { try postProcessor(p) }
            case "ByteLevel": break  // offsets only
            case "TemplateProcessing":
                var seenText = false
                for item in v.object?["single"]?.array ?? [] {
                    if item.object?["Sequence"] != nil { seenText = true; continue }
                    guard let id = item.object?["SpecialToken"]?.object?["id"]?.string else { throw unsupported("a template item \(item)") }
                    if seenText { suffixTokens.append(id) } else { prefixTokens.append(id) }
                }
            default: throw unsupported("post_processor \(type(v))")
            }
        }
        if let p = o["post_processor"], p != .null { try postProcessor(p) }

        // Decoder.
        switch o["decoder"] ?? .null {
        case .null:
            decoder = isByteLevel ? .byteLevel : .sentencePiece(replacement: "▁", stripsLeadingSpace: true)
        case let d where type(d) == "ByteLevel":
            decoder = .byteLevel
        case let d where type(d) == "Metaspace":
            decoder = .sentencePiece(replacement: d.object?["replacement"]?.string ?? "▁", stripsLeadingSpace: Self.metaspacePrepends(d))
        case let d where type(d) == "Sequence":
            // Llama 2's: Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0); newer files
            // spell the first step as a Metaspace decoder.
            var replacement: String?
            var strips = false
            for step in d.object?["decoders"]?.array ?? [] {
                switch type(step) {
                case "Replace": replacement = string(step.object?["pattern"])
                case "Metaspace":
                    replacement = step.object?["replacement"]?.string
                    strips = strips || Self.metaspacePrepends(step)
                case "ByteFallback", "Fuse": break
                case "Strip":
                    guard step.object?["start"]?.int == 1, step.object?["stop"]?.int == 0 else { throw unsupported("decoder Strip other than one leading space") }
                    strips = true
                default: throw unsupported("decoder \(type(step))")
                }
            }
            guard let replacement else { throw unsupported("a decoder Sequence without the ▁ replacement") }
            decoder = .sentencePiece(replacement: replacement, stripsLeadingSpace: strips)
        case let d:
            throw unsupported("decoder \(type(d))")
        }
        if isByteLevel != (decoder == .byteLevel) {
            throw unsupported("a byte-level pre-tokenizer with a non-byte-level decoder, or the reverse")
        }
    }

    /// A Metaspace decoder drops the space its encoder put first, unless it never puts one.
    static func metaspacePrepends(_ d: JSONValue) -> Bool {
        guard let o = d.object else { return true }
        if let scheme = o["prepend_scheme"]?.string { return scheme != "never" }
        return o["add_prefix_space"]?.bool ?? true
    }

    /// The patterns of `Split` pre-tokenizers that real tokenizer.json files carry.
    package static let knownPatterns: [String: Split] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3(maxDigits: 3),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3(maxDigits: 1),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3(maxDigits: 1, marks: true),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3(maxDigits: 1, symbolNewlines: false),
        #"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3(maxDigits: 1, contractions: false),
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
    ].merging(RegexSplits.matchers.keys.map { ($0, Split.regex($0)) }) { a, _ in a }

    // MARK: Writing it back

    /// The pipeline in tokenizer.json's spelling: `normalizer`, `pre_tokenizer`,
    /// `post_processor` and `decoder`, plus the `model` flags, for `merge` into a root object.
    package func jsonObjects(specialIDs: [String: Int]) -> (root: JSONObject, modelFlags: JSONObject) {
        func typed(_ t: String, _ fields: [String: JSONValue] = [:]) -> JSONValue {
            var o = JSONObject(["type": .string(t)])
            for (k, v) in fields.sorted(by: { $0.key < $1.key }) { o[k] = v }
            return .object(o)
        }
        let normalizers: [JSONValue] = normalizer.map { step in
            switch step {
            case .nfc: return typed("NFC")
            case .prepend(let p): return typed("Prepend", ["prepend": .string(p)])
            case .replace(let a, let b): return typed("Replace", ["pattern": .object(JSONObject(["String": .string(a)])), "content": .string(b)])
            }
        }
        var root = JSONObject()
        root["normalizer"] = normalizers.isEmpty ? .null : (normalizers.count == 1 ? normalizers[0] : typed("Sequence", ["normalizers": .array(normalizers)]))
        switch preTokenizer {
        case .byteLevel(let splits, let prefixSpace):
            // GPT-2's regex last is ByteLevel's own; the others are Split or Digits before it.
            let useRegex = splits.last == .gpt2
            var steps: [JSONValue] = (useRegex ? splits.dropLast() : splits[...]).map { s in
                switch s {
                case .digits(let individual): return typed("Digits", ["individual_digits": .bool(individual)])
                case .punctuation: return typed("Punctuation", ["behavior": .string("Contiguous")])
                case .gpt2, .llama3, .regex:
                    let pattern = TokenizerPipeline.knownPatterns.first { $0.value == s }!.key
                    return typed("Split", ["pattern": .object(JSONObject(["Regex": .string(pattern)])), "behavior": .string("Isolated"), "invert": .bool(false)])
                }
            }
            steps.append(typed("ByteLevel", ["add_prefix_space": .bool(prefixSpace), "trim_offsets": .bool(true), "use_regex": .bool(useRegex)]))
            root["pre_tokenizer"] = steps.count == 1 ? steps[0] : typed("Sequence", ["pretokenizers": .array(steps)])
        case .metaspace(let r, let prepend, let split):
            root["pre_tokenizer"] = typed("Metaspace", ["replacement": .string(r), "prepend_scheme": .string(prepend.rawValue), "split": .bool(split)])
        case .none:
            root["pre_tokenizer"] = .null
        }
        if prefixTokens.isEmpty && suffixTokens.isEmpty {
            root["post_processor"] = isByteLevel ? typed("ByteLevel", ["add_prefix_space": .bool(false), "trim_offsets": .bool(false), "use_regex": .bool(true)]) : .null
        } else {
            func special(_ t: String) -> JSONValue { .object(JSONObject(["SpecialToken": .object(JSONObject(["id": .string(t), "type_id": .int(0)]))])) }
            let text = JSONValue.object(JSONObject(["Sequence": .object(JSONObject(["id": .string("A"), "type_id": .int(0)]))]))
            let single = prefixTokens.map(special) + [text] + suffixTokens.map(special)
            var specials = JSONObject()
            for t in Set(prefixTokens + suffixTokens).sorted() {
                specials[t] = .object(JSONObject(["id": .string(t), "ids": .array([.int(specialIDs[t] ?? 0)]), "tokens": .array([.string(t)])]))
            }
            root["post_processor"] = typed("TemplateProcessing", ["single": .array(single), "pair": .array(single), "special_tokens": .object(specials)])
        }
        switch decoder {
        case .byteLevel:
            root["decoder"] = typed("ByteLevel", ["add_prefix_space": .bool(true), "trim_offsets": .bool(true), "use_regex": .bool(true)])
        case .sentencePiece(let r, let strips):
            root["decoder"] = typed("Sequence", ["decoders": .array([
                typed("Replace", ["pattern": .object(JSONObject(["String": .string(r)])), "content": .string(" ")]),
                typed("ByteFallback"), typed("Fuse"),
            ] + (strips ? [typed("Strip", ["content": .string(" "), "start": .int(1), "stop": .int(0)])] : []))])
        }
        let flags = JSONObject([
            "byte_fallback": .bool(byteFallback), "fuse_unk": .bool(fuseUnknown), "ignore_merges": .bool(ignoreMerges),
            "unk_token": unknownToken.map { .string($0) } ?? .null,
        ])
        return (root, flags)
    }
}
