// The byte-level BPE tokenizer against Hugging Face `tokenizers` (goldens recorded by
// fixtures/scripts/train_tiny_gpt2.py) and llama.cpp's GPT-2 test vectors.

import Testing
@testable import TensorLedger

@Suite struct TokenizerTests {
    static var goldens: JSONObject { get throws { try goldensStorage.get() } }
    private static let goldensStorage = Loaded { try Fixtures.json("expected/tokenizer-goldens.json") }
    static var genesisTokenizer: BPETokenizer { get throws { try genesisTokenizerStorage.get() } }
    private static let genesisTokenizerStorage = Loaded { try BPETokenizer.load(Fixtures.model("tiny-genesis") + "/tokenizer.json") }
    static var gpt2Tokenizer: BPETokenizer { get throws { try gpt2TokenizerStorage.get() } }
    private static let gpt2TokenizerStorage = Loaded { try TokenizerSource.load(Fixtures.anchor("ggml-vocab-gpt-2.gguf")) }

    static func tokenizer(_ name: String) throws -> BPETokenizer { try name == "gpt2" ? gpt2Tokenizer : genesisTokenizer }

    static func cases(_ name: String) throws -> [(text: String, ids: [Int], decoded: String)] {
        try goldens[name]!.array!.map { c in
            let o = c.object!
            return (o["text"]!.string!, o["ids"]!.array!.map { $0.int! }, o["decoded"]!.string!)
        }
    }

    @Test(arguments: ["tiny-genesis", "gpt2"])
    func encodesAndDecodesAsTokenizersDoes(_ name: String) throws {
        let tok = try Self.tokenizer(name)
        for c in try Self.cases(name) {
            #expect(tok.encode(c.text) == c.ids, "\(name): \(c.text.debugDescription)")
            #expect(try tok.decode(c.ids) == c.decoded, "\(name): \(c.text.debugDescription)")
        }
    }

    /// llama.cpp's tokenizer vectors (ids from Hugging Face's tokenizers, without the BOS):
    /// GPT-2's byte-level BPE, and Phi-3's SentencePiece vocabulary (Llama 2's 32,000 tokens
    /// and Phi-3's added ones), read from their GGUF vocabulary files.
    @Test(arguments: ["gpt-2", "phi-3"])
    func matchesLlamaCppVectors(_ name: String) throws {
        let file = "ggml-vocab-\(name).gguf"
        let tokenizer = name == "gpt-2" ? try Self.gpt2Tokenizer : try TokenizerSource.load(Fixtures.anchor(file))
        let inputs = String(decoding: try readWholeFile(Fixtures.anchor(file + ".inp")), as: UTF8.self)
            .components(separatedBy: "\n__ggml_vocab_test__\n").dropLast()
        let outputs = String(decoding: try readWholeFile(Fixtures.anchor(file + ".out")), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(inputs.count == 46)
        for (text, expected) in zip(inputs, outputs) {
            let ids = expected.split(separator: " ").map { Int($0)! }
            #expect(tokenizer.encode(text, addSpecialTokens: false) == ids, "\(name): \(text.debugDescription)")
        }
    }

    @Test func encodesHeldOutTextAsTokenizersDoes() throws {
        let chapters = String(decoding: try readWholeFile(Fixtures.path("text/genesis.txt")), as: UTF8.self)
            .trimmingTrailingNewlines.components(separatedBy: "\n\n")
        let heldOut = chapters[45...].joined(separator: "\n\n")
        let expected = try Self.goldens["held_out_ids"]!.array!.map { $0.int! }
        #expect(try Self.genesisTokenizer.encode(heldOut) == expected)
    }

    @Test(arguments: ["tiny-genesis", "gpt2"])
    func compactFormEncodesTheSame(_ name: String) throws {
        let tok = try Self.tokenizer(name)
        let compact = try BPETokenizer.fromCompact(tok.compactBytes(), source: "compact")
        #expect(compact.vocabularySize == tok.vocabularySize)
        for c in try Self.cases(name) {
            #expect(compact.encode(c.text) == c.ids, "\(name): \(c.text.debugDescription)")
            #expect(try compact.decode(c.ids) == c.decoded)
        }
        var broken = tok.compactBytes()
        broken.removeLast(3)
        #expect(throws: TokenizerError.self) { try BPETokenizer.fromCompact(broken, source: "cut") }
    }

    @Test func tokenizationReportListsEachPiece() throws {
        let report = try TokenizationReport(text: "Hello world", tokenizer: Self.gpt2Tokenizer)
        #expect(report.ids == [15496, 995])
        #expect(report.textReport == "15496\tHello\n995\t␣world")
        #expect(report.summaryLine == "2 tokens, 11 bytes")
    }

    @Test func readsMergesInBothForms() throws {
        // The fixture's tokenizer.json writes merges as pairs; rewrite them as "a b" strings.
        var root = try JSON.parse(try readWholeFile(Fixtures.model("tiny-genesis") + "/tokenizer.json")).object!
        var model = root["model"]!.object!
        model["merges"] = .array(model["merges"]!.array!.map { .string($0.array![0].string! + " " + $0.array![1].string!) })
        root["model"] = .object(model)
        let stringForm = try BPETokenizer.fromTokenizerJSON(Array(JSONValue.object(root).serialized().utf8), source: "rewritten")
        for c in try Self.cases("tiny-genesis") { #expect(stringForm.encode(c.text) == c.ids) }
    }

    @Test(arguments: ["tiny-genesis", "gpt2"])
    func decodesSplitCharactersAsTokenizersDoes(_ name: String) throws {
        let tok = try Self.tokenizer(name)
        for c in try Self.goldens["split_characters"]!.object![name]!.array! {
            let o = c.object!
            let ids = o["ids"]!.array!.map { $0.int! }
            let prefixes = o["prefix_decodes"]!.array!.map { $0.string! }
            for k in 0...ids.count { #expect(try tok.decode(Array(ids[0..<k])) == prefixes[k], "\(name) \(ids[0..<k])") }
            // Streaming never shows half a character, and adds up to the whole text.
            var stream = StreamingDecoder()
            var text = ""
            for id in ids {
                let piece = stream.append(try tok.bytes(of: id))
                #expect(!piece.contains("\u{FFFD}"))
                text += piece
            }
            text += stream.finish()
            #expect(text == o["text"]!.string!)
        }
    }

    @Test func streamingReplacesWhatCanNeverBeValid() {
        var s = StreamingDecoder()
        #expect(s.append([0x68, 0xE4, 0xBD]) == "h")      // "h" and two bytes of 你
        #expect(s.append([0xA0, 0xFF]) == "你\u{FFFD}")    // completed, then an impossible byte
        #expect(s.append([0xF0, 0x9F]) == "")
        #expect(s.finish() == "\u{FFFD}")                  // an emoji cut short at the end
    }

    // Expected splits are what Python's `regex` module gives for the GPT-2 pattern.
    @Test func preTokenizerSplitsLikeTheGPT2Pattern() {
        #expect(GPT2PreTokenizer.split("Hello world's  end\n\n x") == ["Hello", " world", "'s", " ", " end", "\n\n", " x"])
        #expect(GPT2PreTokenizer.split("a  \n b") == ["a", "  \n", " b"])
        #expect(GPT2PreTokenizer.split("don't DON'T") == ["don", "'t", " DON", "'", "T"])
        #expect(GPT2PreTokenizer.split("x1.5 ?!") == ["x", "1", ".", "5", " ?!"])
        // A combining mark is not a letter: it splits a word, as the reference does.
        #expect(GPT2PreTokenizer.split("e\u{301}t") == ["e", "\u{301}", "t"])
        #expect(GPT2PreTokenizer.split("   ") == ["   "])
    }

    /// Each of llama.cpp's pre-tokenizer names that has a split here cuts text as `tokenizers`
    /// does with that name's regexes (fixtures/scripts/make_split_goldens.py): letters with
    /// combining marks, digits, punctuation and whitespace of every kind.
    @Test(arguments: ["gpt-2", "llama-bpe", "qwen2", "qwen35", "smollm", "falcon", "deepseek-llm", "deepseek-coder", "deepseek-v3",
                      "tekken", "gpt-4o", "bailingmoe", "seed-coder", "ufakzeka", "minicpm5", "laguna", "bloom", "viking"])
    func splitsAsTokenizersDoes(_ name: String) throws {
        let splits = try #require(TokenizerPipeline.ggufPreTokenizers[name])
        let cases = try #require(try Fixtures.json("expected/split-goldens.json")[name]?.array)
        #expect(cases.count > 20)
        for c in cases {
            let text = try #require(c.object?["text"]?.string)
            let expected = try #require(c.object?["pieces"]?.array).compactMap { $0.string }
            var pieces = text.isEmpty ? [] : [text]
            for split in splits { pieces = pieces.flatMap { PreTokenizer.split($0, split) } }
            #expect(pieces == expected, "\(name): \(text.debugDescription)")
        }
    }

    @Test func refusesTokenizersItCannotRun() {
        let wordPiece = #"{"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": null}"#
        #expect(throws: TokenizerError.self) { try BPETokenizer.fromTokenizerJSON(Array(wordPiece.utf8), source: "x") }
        let badMerge = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}}"#
        #expect(throws: TokenizerError.self) { try BPETokenizer.fromTokenizerJSON(Array(badMerge.utf8), source: "x") }
        #expect(throws: TokenizerError.unknownTokenID(999_999, vocabularySize: 50257)) { try Self.gpt2Tokenizer.decode([999_999]) }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: separator) {
            parts.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

/// The tokenizer.json TensorLedger writes (synth --tokenizer, and a .tlm file's) is one
/// Hugging Face `tokenizers` reads with the same ids, special tokens included: recorded by
/// fixtures/scripts/check_written_tokenizers.py from `tokenizers` reading these very bytes.
@Suite struct WrittenTokenizerTests {
    static let names = ["gpt2-gguf", "tiny-genesis", "tiny-llama", "tiny-qwen2", "llama3-style", "smollm-style", "metaspace-style"]

    @Test(arguments: names)
    func tokenizersReadsWhatWeWrite(_ name: String) throws {
        let record = try #require(try Fixtures.json("expected/written-tokenizers.json")["tokenizers"]?.object?[name]?.object)
        let source = Fixtures.root + "/" + (try #require(record["source"]?.string))
        let written = try TokenizerSource.load(source).tokenizerJSON()
        let hash = written.withUnsafeBytes { TLMFormat.checksum($0) }
        // A different hash: the writer changed, and the script must check the new output again.
        #expect(TLMHeader.hex(hash) == record["xxh64"]?.string, "run fixtures/scripts/check_written_tokenizers.py")
        let reread = try BPETokenizer.fromTokenizerJSON(written, source: name)
        let cases = try #require(record["cases"]?.array)
        #expect(cases.count >= 6)
        for c in cases {
            let text = try #require(c.object?["text"]?.string)
            let ids = try #require(c.object?["ids"]?.array).map { $0.int! }
            #expect(reread.encode(text) == ids, "\(name): \(text.debugDescription)")
        }
    }
}
