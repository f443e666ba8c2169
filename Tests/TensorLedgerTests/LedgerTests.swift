// The ledger against transformers' own parameter counts and the GPT-3 walkthrough's figures.

import Testing
@testable import TensorLedger

@Suite struct LedgerTests {
    @Test(arguments: ["gpt2-tiny", "llama-tiny", "bert-tiny", "neox-tiny", "gpt2-legacy", "gpt2-tiny-sharded"])
    func totalsMatchTransformers(_ model: String) throws {
        let expected = try Fixtures.checkpointFacts[model]!.object!["num_parameters"]!.int!
        let (ledger, _) = try ModelSource.ledger(Fixtures.model(model))
        #expect(ledger.uniqueParameters == expected)
        #expect(ledger.unmatched.isEmpty, "\(ledger.unmatched)")
        // Every category but Other is filled (a bare BERT encoder has no unembedding).
        for c in LedgerCategory.matrixCategories where !(model == "bert-tiny" && c == .unembedding) {
            #expect(ledger.row(c).parameters > 0, "\(model): \(c)")
        }
    }

    @Test(arguments: ["gpt2-tiny", "llama-tiny", "bert-tiny", "neox-tiny"])
    func configAloneGivesTheSameLedgerAsTheWeights(_ model: String) throws {
        let (fromFile, _) = try ModelSource.ledger(Fixtures.model(model))
        let fromConfig = Ledger(config: try ModelConfig.load(Fixtures.model(model) + "/config.json"), source: "config")
        #expect(fromFile.rows.count == LedgerCategory.allCases.count && fromConfig.rows.count == fromFile.rows.count)
        for (a, b) in zip(fromFile.rows, fromConfig.rows) {
            #expect(a.parameters == b.parameters && a.matrices == b.matrices && a.shapes == b.shapes, "\(model): \(a.category)")
        }
    }

    @Test func legacyMaskBuffersAreNotParameters() throws {
        let facts = try Fixtures.checkpointFacts["gpt2-legacy"]!.object!
        let (ledger, _) = try ModelSource.ledger(Fixtures.model("gpt2-legacy"))
        #expect(ledger.buffers.map(\.name).sorted() == ["h.0.attn.bias", "h.0.attn.masked_bias", "h.1.attn.bias", "h.1.attn.masked_bias"])
        #expect(ledger.buffers.reduce(0) { $0 + $1.elementCount } == facts["buffer_values"]!.int)
    }

    @Test func tiedUnembeddingIsShownButCountedOnce() throws {
        let (ledger, _) = try ModelSource.ledger(Fixtures.model("gpt2-tiny"))
        let un = ledger.row(.unembedding)
        #expect(un.tied)
        #expect(un.parameters == ledger.row(.embedding).parameters)
        #expect(ledger.gpt3StyleTotal == ledger.uniqueParameters + un.parameters)
        let (untied, _) = try ModelSource.ledger(Fixtures.model("llama-tiny"))
        #expect(!untied.row(.unembedding).tied)
    }

    @Test(arguments: ModelConfig.presets.map(\.name))
    func presetsMatchTransformers(_ name: String) throws {
        // GPT presets from make_checkpoints.py, LLaMA-family ones from make_llama_fixtures.py
        // and make_family_fixtures.py.
        let counted = try Fixtures.checkpointFacts["presets"]?.object?[name] ?? LlamaFamilyTests.reference["published_parameters"]?.object?[name]
            ?? FamilyTests.reference["published_parameters"]?.object?[name]
        let expected = try #require(counted?.int, "no reference count for preset \(name)")
        let ledger = Ledger(config: try ModelConfig.preset(name), source: name)
        #expect(ledger.uniqueParameters == expected)
        // A mixture's active parameters, as counted beside transformers' (Mixtral 8x7B: 12.9B of 46.7B).
        let active = try FamilyTests.reference["published_parameters"]?.object?[name + " active"]?.int
        #expect(ledger.activeParameters == active)
    }

    @Test func gpt3_175bMatchesTheWalkthrough() throws {
        let ledger = Ledger(config: try ModelConfig.preset("gpt3-175b"), source: "gpt3-175b")
        #expect(ledger.row(.embedding).parameters == 617_558_016)
        #expect(ledger.row(.embedding).shapeText == "50,257 × 12,288")
        for c in [LedgerCategory.key, .query, .value, .output] {
            #expect(ledger.row(c).parameters == 14_495_514_624)
        }
        #expect(ledger.row(.upProjection).parameters == 57_982_058_496)
        #expect(ledger.row(.downProjection).parameters == 57_982_058_496)
        #expect(ledger.row(.unembedding).parameters == 617_558_016)
        #expect(ledger.eightCategoryTotal == 175_181_291_520)
        #expect(ledger.matrixCount == 27_938)
        #expect(ledger.row(.key).matrices == 96 * 96)
        #expect(ledger.row(.key).shapeText == "12,288 × 128")
        // JSON gives the numbers: the whole Key product and the heads it is split into.
        let key = ledger.json().object?["rows"]?.array?.first { $0.object?["category"]?.string == LedgerCategory.key.rawValue }
        #expect(key?.object?["shapes"] == .array([.object(JSONObject(["in": .int(12_288), "out": .int(12_288), "heads": .int(96)]))]))
    }

    @Test func gpt2SmallMatchesTheKnownBreakdown() throws {
        let ledger = Ledger(config: try ModelConfig.preset("gpt2"), source: "gpt2")
        #expect(ledger.row(.embedding).parameters == 38_597_376)
        #expect(ledger.row(.query).parameters == 7_077_888)
        #expect(ledger.row(.upProjection).parameters == 28_311_552)
        #expect(ledger.uniqueParameters == 124_439_808)
        // Rows add up to the total: position embeddings, biases and norms under Other.
        #expect(ledger.row(.other).parameters == 786_432 + 82_944 + 38_400)
    }

    @Test func headsUnknownWithoutConfig() throws {
        let file = try SafetensorsFile(path: Fixtures.model("gpt2-tiny") + "/model.safetensors")
        let ledger = Ledger(tensors: file.tensors, config: nil, source: "x")
        #expect(ledger.family == .gpt2)
        #expect(!ledger.perHeadCounts)
        #expect(ledger.row(.query).matrices == 2)
        #expect(try ledger.uniqueParameters == Fixtures.checkpointFacts["gpt2-tiny"]!.object!["num_parameters"]!.int!)
    }

    @Test(arguments: ["n_layer", "n_embd", "vocab_size", "n_positions", "n_inner"])
    func absurdConfigurationsAreRefused(_ key: String) throws {
        var o = try JSON.parse(try readWholeFile(Fixtures.model("gpt2-tiny") + "/config.json")).object!
        o[key] = .int(1 << 40)
        #expect(throws: ConfigError.self) { try ModelConfig.parse(.object(o), file: "evil.json") }
    }

    @Test func jsonCarriesTheSameFacts() throws {
        let (ledger, _) = try ModelSource.ledger(Fixtures.model("gpt2-tiny"))
        let json = try #require(ledger.json().object)
        #expect(json["schema"] == .string("tensorledger.ledger/2"))
        #expect(json["totals"]?.object?["unique_parameters"] == .int(ledger.uniqueParameters))
        #expect(json["rows"]?.array?.count == 9)
        // And the text table prints the total with separators.
        #expect(ledger.textReport().contains(formatCount(ledger.uniqueParameters)))
    }
}

@Suite struct LedgerFromConfigTests {
    /// A configuration alone counts bytes in the type its weights were saved in.
    @Test(arguments: [("torch_dtype", "bfloat16", "BF16", 2), ("dtype", "float16", "F16", 2), ("torch_dtype", "float32", "F32", 4)])
    func bytesFollowTheSavedType(_ key: String, _ value: String, _ dtype: String, _ width: Int) throws {
        let dir = TemporaryDirectory()
        var config = try JSON.parse(try readWholeFile(Fixtures.model("tiny-llama") + "/config.json")).object!
        config["dtype"] = nil
        config[key] = .string(value)
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        let ledger = Ledger(config: try ModelConfig.load(dir.file("config.json")), source: "config")
        #expect(ledger.bytesByDType.map(\.dtype) == [dtype])
        #expect(ledger.bytesByDType.first?.bytes == ledger.uniqueParameters * width)
    }
}

/// A configuration's two spellings (config.json as Hugging Face writes it, and the .tlm
/// header's) each give back what was written: one set of facts, whichever way it travels.
@Suite struct ConfigRoundTripTests {
    static var configs: [ModelConfig] {
        get throws {
            let fixtures = ["tiny-genesis", "tiny-llama", "tiny-qwen2", "gpt2-tiny", "llama-tiny", "bert-tiny", "neox-tiny"]
            return try ModelConfig.presets.map(\.config) + fixtures.map { try ModelConfig.load(Fixtures.model($0) + "/config.json") }
        }
    }

    @Test func huggingFaceSpellingRoundTrips() throws {
        let dir = TemporaryDirectory()
        for config in try Self.configs {
            try SyntheticCheckpoint.writeConfig(config, to: dir.file("config.json"), overwrite: true)
            let reread = try ModelConfig.load(dir.file("config.json"))
            #expect(reread == config, "\(config.modelType): \(reread) ≠ \(config)")
        }
    }

    @Test func tlmHeaderSpellingRoundTrips() throws {
        for var config in try Self.configs {
            config.weightDType = .float32  // the header records the stored weights, not the source's type
            #expect(try ModelConfig.parseStored(config.json) == config, "\(config.modelType)")
        }
    }
}
