// The LLaMA-family runner and tokenizers against Hugging Face `transformers` and
// `tokenizers` (references recorded by fixtures/scripts/make_llama_fixtures.py): a Llama
// with grouped-query attention, an untied head, llama3 rope scaling and a
// SentencePiece-style tokenizer; a Qwen2 with Q/K/V biases, one key/value head, a tied
// head and a byte-level tokenizer; and the Llama 3, SmolLM and Metaspace tokenizers.

import Testing
@testable import TensorLedger

@Suite(.serialized) struct LlamaFamilyTests {
    static var reference: JSONObject { get throws { try referenceStorage.get() } }
    private static let referenceStorage = Loaded { try Fixtures.json("expected/llama-family.json") }
    static let models = ["tiny-llama", "tiny-qwen2"]
    static let prompts = ["one-token", "mid", "context-limit"]

    static func facts(_ model: String) throws -> JSONObject { try #require(reference[model]?.object) }
    static func ints(_ v: JSONValue?) -> [Int] { v!.array!.map { $0.int! } }
    static func numbers(_ v: JSONValue?) -> [Double] { v!.array!.map { $0.number! } }

    /// `model` converted to `scheme`, loaded from its .tlm file.
    static func converted(_ model: String, _ scheme: WeightScheme) throws -> any LanguageModel {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = scheme
        _ = try Converter.convert(input: Fixtures.model(model), output: dir.file("m.tlm"), options: options)
        return try ModelLoader.load(dir.file("m.tlm"), cache: .f32)
    }

    static func maxDifference(_ a: [Float], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    @Test(arguments: models)
    func loadsAsTheLlamaFamily(_ name: String) throws {
        let model = try ModelLoader.load(Fixtures.model(name))
        #expect(model is LlamaModel)
        #expect(model.config.kvHeads < model.config.heads)
        let tied = name == "tiny-qwen2"
        #expect(model.config.tiedEmbeddings == tied)
        #expect(try model.vocabularySize == Self.facts(name)["mid"]!.object!["last_logits"]!.array!.count)
    }

    @Test(arguments: models)
    func f32LogitsMatchTransformers(_ name: String) throws {
        for model in [try ModelLoader.load(Fixtures.model(name), cache: .f32), try Self.converted(name, .f32)] {
            for prompt in Self.prompts {
                let ref = try Self.facts(name)[prompt]!.object!
                let logits = try Generator(model: model).lastLogits(Self.ints(ref["input_ids"]))
                let diff = Self.maxDifference(logits, Self.numbers(ref["last_logits"]))
                #expect(diff < 1e-4, "\(name) \(prompt) from \(model.source): max |Δlogit| = \(diff)")
            }
        }
    }

    @Test(arguments: models)
    func greedyContinuationMatchesTransformers(_ name: String) throws {
        let greedy = try Self.facts(name)["greedy"]!.object!
        let expected = Self.ints(greedy["generated_ids"])
        // Compare up to the first step where the reference's top two are within 1e-3.
        let reliable = Self.numbers(greedy["top2_margins"]).firstIndex { $0 < 1e-3 } ?? expected.count
        var options = SamplingOptions()
        options.temperature = 0
        let model = try ModelLoader.load(Fixtures.model(name))
        let result = try Generator(model: model).generate(promptIDs: Self.ints(greedy["prompt_ids"]), maxTokens: expected.count, sampling: options)
        #expect(Array(result.generatedIDs.prefix(reliable)) == Array(expected.prefix(reliable)), "\(name): first \(reliable) greedy tokens")
        #expect(reliable >= 16)
        // `tokenizers` drops the leading space of a SentencePiece decode; a continuation keeps it.
        #expect(try model.tokenizer.decode(result.generatedIDs) == greedy["text"]!.string!)
        #expect(result.text.hasSuffix(greedy["text"]!.string!))
    }

    @Test(arguments: models, [(WeightScheme.f16, 0.01), (.bf16, 0.1), (.q8, 0.25), (.q8Row, 0.5)])
    func reducedPrecisionStaysClose(_ name: String, _ case_: (WeightScheme, Double)) throws {
        let (scheme, tolerance) = case_
        let model = try Self.converted(name, scheme)
        #expect(model.weightFormat == scheme.rawValue)
        for prompt in Self.prompts {
            let ref = try Self.facts(name)[prompt]!.object!
            let logits = try Generator(model: model).lastLogits(Self.ints(ref["input_ids"]))
            let diff = Self.maxDifference(logits, Self.numbers(ref["last_logits"]))
            #expect(diff < tolerance, "\(name) \(scheme.rawValue) \(prompt): max |Δlogit| = \(diff)")
        }
    }

    @Test(arguments: models)
    func perplexityMatchesTransformersAndQ8StaysWithinOnePercent(_ name: String) throws {
        let facts = try Self.facts(name)
        let ids = Self.ints(facts["held_out_ids"])
        let ppl = facts["perplexity"]!.object!
        let model = try ModelLoader.load(Fixtures.model(name))
        let result = try Perplexity.evaluate(model, ids: ids, context: ppl["n_ctx"]!.int!, compareWith: try Self.converted(name, .q8))
        #expect(result.predicted == ppl["tokens_predicted"]!.int!)
        let expected = ppl["value"]!.number!
        #expect(abs(result.perplexity - expected) / expected < 1e-4, "\(name): perplexity \(result.perplexity) vs \(expected)")
        let c = try #require(result.comparison)
        #expect(abs(c.perplexity - result.perplexity) / result.perplexity < 0.01, "\(name): q8 \(c.perplexity) vs f32 \(result.perplexity)")
        #expect(c.meanKL < 0.01 && c.top1Agreement > 0.95, "\(name): mean KL \(c.meanKL), top-1 \(c.top1Agreement)")
    }

    @Test(arguments: models)
    func batchedPromptEqualsTokenByToken(_ name: String) throws {
        let ids = Self.ints(try Self.facts(name)["mid"]!.object!["input_ids"])
        for model in [try ModelLoader.load(Fixtures.model(name), cache: .f32), try Self.converted(name, .q8)] {
            let batched = try Generator(model: model).lastLogits(ids)
            let state = model.makeState()
            for id in ids { try model.forward([id], state: state) }
            let diff = zip(batched, state.logits()).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4, "\(name) \(model.weightFormat): \(diff)")
        }
    }

    /// Two models with vocabularies of one size but different tokenizers are refused too.
    @Test func modelsWithDifferentTokenizersAreNotCompared() throws {
        let source = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        for name in ["model.safetensors", "config.json"] { copyFile(source + "/" + name, dir.file(name)) }
        var tokenizer = try #require(try JSON.parse(try readWholeFile(source + "/tokenizer.json")).object)
        var model = try #require(tokenizer["model"]?.object)
        var vocab = try #require(model["vocab"]?.object)
        (vocab["e"], vocab["a"]) = (vocab["a"], vocab["e"])
        model["vocab"] = .object(vocab)
        tokenizer["model"] = .object(model)
        writeFile(dir.file("tokenizer.json"), Array(JSONValue.object(tokenizer).serialized().utf8))
        let a = try ModelLoader.load(source), b = try ModelLoader.load(dir.path)
        #expect(a.vocabularySize == b.vocabularySize)
        #expect { try Perplexity.evaluate(a, ids: [1, 2, 3, 4], compareWith: b) } throws: { error in
            "\(error)".contains("their tokenizers differ")
        }
        #expect(try Perplexity.evaluate(a, ids: [1, 2, 3, 4], compareWith: a).comparison?.meanKL == 0)
    }

    /// The larger vocabulary's logits used to be indexed with the smaller's: a trap.
    @Test func modelsWithDifferentVocabulariesAreNotCompared() throws {
        let genesis = try ModelLoader.load(Fixtures.model("tiny-genesis")), llama = try ModelLoader.load(Fixtures.model("tiny-llama"))
        for (a, b) in [(genesis, llama), (llama, genesis)] {
            #expect(throws: GenerationError.self) { try Perplexity.evaluate(a, ids: [1, 2, 3, 4], compareWith: b) }
        }
    }

    @Test func traceNamesTheFamilysStages() throws {
        let model = try ModelLoader.load(Fixtures.model("tiny-llama"))
        let trace = try Generator(model: model).trace(prompt: "And God said", top: 3)
        #expect(trace.stages.count == 1 + 2 * model.config.layers + 2)
        let steps = trace.stages.flatMap(\.matrices)
        for step in [TraceStep.norm("RMSNorm"), .rope, .activation("SwiGLU"), .attention(heads: model.config.heads, kvHeads: model.config.kvHeads)] {
            #expect(steps.contains(step), "\(step) in \(steps)")
        }
        #expect(trace.stages.contains { $0.name == "Final RMSNorm" })
        #expect(!steps.contains(.norm("LayerNorm")))
        // In JSON, the matrices are numbers and names, as the ledger names them.
        let attention = try #require(trace.json.object?["stages"]?.array?[1].object?["steps"]?.array)
        let c = model.config
        #expect(attention[1] == .object(JSONObject(["op": .string("matrix"), "name": .string("query"), "in": .int(c.hiddenSize), "out": .int(c.heads * c.headDim)])))
    }

    // MARK: Configurations that cannot describe a working model

    /// tiny-llama's files with config.json edited by `edit`.
    static func loadEdited(_ edit: (String) -> String) throws -> any LanguageModel {
        let dir = TemporaryDirectory()
        let source = Fixtures.model("tiny-llama")
        for name in ["model.safetensors", "tokenizer.json"] { copyFile(source + "/" + name, dir.file(name)) }
        let config = String(decoding: try readWholeFile(source + "/config.json"), as: UTF8.self)
        writeFile(dir.file("config.json"), Array(edit(config).utf8))
        return try withExtendedLifetime(dir) { try ModelLoader.load(dir.path) }
    }

    @Test func badConfigurationsAreRefusedNamingTheProblem() throws {
        let cases: [(String, String, String)] = [
            ("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", "do not divide"),
            ("\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"", "rope_scaling type yarn"),
            ("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act gelu"),
            ("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3", "model.layers.2.input_layernorm.weight"),
            ("\"intermediate_size\": 160", "\"intermediate_size\": 128", "[128, 64]"),
            ("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1", "epsilon"),
            ("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": \"1e-05\"", "\"rms_norm_eps\" must be a number, found a string"),
            ("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1", "the weights hold 2 layers but the configuration says 1"),
        ]
        for (from, to, expected) in cases {
            do {
                _ = try Self.loadEdited { $0.replacing(from, with: to) }
                Issue.record("\(to) was accepted")
            } catch let error as TensorLedgerError {
                #expect(error.description.contains(expected), "\(to): \(error.description)")
            }
        }
    }
}

@Suite struct LlamaTokenizerTests {
    static let files = [
        "tiny-llama": Fixtures.model("tiny-llama") + "/tokenizer.json",
        "tiny-qwen2": Fixtures.model("tiny-qwen2") + "/tokenizer.json",
        "llama3-style": Fixtures.path("tokenizers/llama3-style.json"),
        "smollm-style": Fixtures.path("tokenizers/smollm-style.json"),
        "metaspace-style": Fixtures.path("tokenizers/metaspace-style.json"),
        // Gemma's form (make_family_fixtures.py): "▁" for spaces without a dummy prefix, no pre-tokenizer.
        "gemma-style": Fixtures.path("tokenizers/gemma-style.json"),
    ]

    static func cases(_ name: String) throws -> [JSONObject] {
        let recorded = try LlamaFamilyTests.reference["tokenizers"]!.object![name] ?? FamilyTests.reference["tokenizers"]!.object![name]
        return try #require(recorded?.array).map { $0.object! }
    }

    static func check(_ tok: BPETokenizer, _ name: String) throws {
        let cases = try Self.cases(name)
        #expect(cases.count > 20)
        for c in cases {
            let text = c["text"]!.string!, ids = LlamaFamilyTests.ints(c["ids"])
            #expect(tok.encode(text) == ids, "\(name): \(text.debugDescription)")
            #expect(try tok.decode(ids) == c["decoded"]!.string!, "\(name) decode: \(text.debugDescription)")
            #expect(try tok.decode(ids, skipSpecialTokens: false) == c["decoded_with_special"]!.string!, "\(name) decode: \(text.debugDescription)")
        }
    }

    @Test(arguments: files.keys.sorted())
    func encodesAndDecodesAsTokenizersDoes(_ name: String) throws {
        try Self.check(try BPETokenizer.load(Self.files[name]!), name)
    }

    @Test(arguments: files.keys.sorted())
    func compactFormAndWrittenJSONEncodeTheSame(_ name: String) throws {
        let tok = try BPETokenizer.load(Self.files[name]!)
        try Self.check(try BPETokenizer.fromCompact(tok.compactBytes(), source: "compact"), name)
        try Self.check(try BPETokenizer.fromTokenizerJSON(tok.tokenizerJSON(), source: "written"), name)
    }

    /// Gemma 4's GGUF vocabulary (`tokenizer.ggml.model` gemma4: its merges written out, "▁"
    /// for spaces, byte fallback) encodes and decodes as tokenizers does Gemma's tokenizer.json:
    /// gemma-style.json's vocabulary and merges written in that form. (Gemma 4's own vocabulary,
    /// 16 MB, gives llama.cpp's ids for all 45 of its vectors: scripts/check-vocab-vectors.sh.)
    @Test func aGemma4VocabularyIsGemmasTokenizer() throws {
        let tok = try BPETokenizer.load(Self.files["gemma-style"]!)
        let special = Set(tok.addedTokens.filter(\.special).map(\.id))
        let ranked = tok.merges.sorted { $0.value.rank < $1.value.rank }
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-qwen2-f32.gguf"))
        gguf["tokenizer.ggml.model"] = .string("gemma4")
        gguf["tokenizer.ggml.pre"] = nil
        gguf["tokenizer.ggml.tokens"] = .array(.string, tok.tokens.map { .string($0) })
        gguf["tokenizer.ggml.token_type"] = .array(.i32, tok.tokens.indices.map { i in
            .i32(special.contains(i) ? 3 : (BPETokenizer.fallbackByte(tok.tokens[i]) != nil ? 6 : (tok.tokens[i] == "<unk>" ? 2 : 1)))
        })
        gguf["tokenizer.ggml.merges"] = .array(.string, ranked.map { .string(tok.tokens[Int($0.key >> 32)] + " " + tok.tokens[Int($0.key & 0xFFFF_FFFF)]) })
        gguf["tokenizer.ggml.bos_token_id"] = .u32(UInt32(try #require(tok.id(ofToken: "<bos>"))))
        gguf["tokenizer.ggml.add_bos_token"] = .bool(true)
        let dir = TemporaryDirectory()
        gguf.write(to: dir.file("gemma4.gguf"))
        try Self.check(try BPETokenizer.fromGGUF(try GGUFFile.open(dir.file("gemma4.gguf")), source: "gemma4"), "gemma-style")
    }

    @Test func theLlamaFixturesTokenizerIsSentencePieceStyle() throws {
        let tok = try BPETokenizer.load(Self.files["tiny-llama"]!)
        #expect(tok.prefixIDs == [1])
        #expect(tok.pipeline.byteFallback)
        // A character outside the vocabulary falls back to its bytes' <0xNN> tokens.
        let ids = tok.encode("中", addSpecialTokens: false)
        #expect(try ids.map { try tok.bytes(of: $0) }.joined().elementsEqual(" 中".utf8))
        #expect(try tok.piece(tok.encode(" the", addSpecialTokens: false).last!).hasPrefix(" "))
    }

    @Test func unknownPipelinePiecesAreNamed() throws {
        let json = String(decoding: try readWholeFile(Self.files["tiny-qwen2"]!), as: UTF8.self)
        let cases = [
            (json.replacing("\"type\": \"NFC\"", with: "\"type\": \"NFKC\""), "normalizer NFKC"),
            (json.replacing("\\\\p{N}|", with: "\\\\p{N}{1,2}|"), "Split pattern"),
            (json.replacing("\"type\": \"Split\"", with: "\"type\": \"Whitespace\""), "pre_tokenizer Whitespace"),
        ]
        for (text, expected) in cases {
            #expect(text != json, "the edit for \(expected) changed nothing")
            do {
                _ = try BPETokenizer.fromTokenizerJSON(Array(text.utf8), source: "edited")
                Issue.record("\(expected) was accepted")
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
    }
}

extension LlamaFamilyTests {
    /// A configuration may claim a context of 16 million positions: the cache grows with the
    /// text instead of being allocated for all of them at load (it once asked for 64 GiB).
    @Test func theCacheGrowsWithTheTextNotTheClaimedContext() throws {
        let model = try Self.loadEdited { $0.replacing("\"max_position_embeddings\": 128", with: "\"max_position_embeddings\": 16777216") }
        #expect(model.contextLength == 16_777_216)
        let ids = Self.ints(try Self.facts("tiny-llama")["context-limit"]!.object!["input_ids"])
        let state = model.makeState()
        #expect(state.cacheCapacity == 0)
        try model.forward(Array(ids.prefix(10)), state: state)
        let first = state.cacheCapacity
        try model.forward(Array(ids.dropFirst(10)), state: state)
        #expect(first < ids.count && state.cacheCapacity >= ids.count && state.cacheCapacity <= 1024, "\(first) → \(state.cacheCapacity)")
        // Growing kept what the cache held: the same logits as one pass over the prompt.
        let once = model.makeState()
        try model.forward(ids, state: once)
        #expect(zip(state.logits(), once.logits()).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}
