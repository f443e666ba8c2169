// The families beyond Llama, Mistral and Qwen2, against `transformers` (references recorded by
// fixtures/scripts/make_family_fixtures.py from checkpoints transformers built itself, every
// weight drawn so that it shows in the logits): Qwen3 (per-head RMSNorm of queries and keys),
// OLMo 2 (RMSNorm of all queries and keys, norms after each sublayer), Phi-3 (fused Q/K/V and
// gate/up matrices, rotary positions on half of each head), StableLM (LayerNorm with biases,
// rotary positions on a quarter of each head), Gemma (norms by 1 + w,
// scaled embeddings, GeGLU), Gemma 2 (norms before and after each sublayer, sliding layers,
// soft caps on scores and logits), Gemma 3 (per-head q/k norms, sliding layers with their
// own rope base, a window the prompts reach past) and the mixtures of experts Mixtral,
// Qwen3-MoE and OLMoE. Each one runs from
// its safetensors, from .tlm, from the GGUF we write and from the GGUF llama.cpp's converter
// writes, and its ledger counts what transformers counts.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized) struct FamilyTests {
    static var reference: JSONObject { get throws { try referenceStorage.get() } }
    private static let referenceStorage = Loaded { try Fixtures.json("expected/families.json") }
    static let models = ["tiny-qwen3", "tiny-olmo2", "tiny-phi3", "tiny-stablelm", "tiny-gemma", "tiny-gemma2", "tiny-gemma3", "tiny-mixtral", "tiny-qwen3-moe", "tiny-olmoe"]
    /// The families whose GGUF files (llama.cpp's converter's, in fixtures/gguf) this tool
    /// reads, and those it also writes.
    /// The mixtures' files are F16 (half the bytes in fixtures/); the others F32.
    static let ggufModels = ["tiny-qwen3", "tiny-olmo2", "tiny-phi3", "tiny-stablelm", "tiny-gemma", "tiny-gemma3",
                             "tiny-mixtral", "tiny-qwen3-moe", "tiny-olmoe"]
    static func isMixture(_ name: String) -> Bool { name.contains("moe") || name.contains("mixtral") }
    static func llamaCppGGUF(_ name: String) -> String { Fixtures.path("gguf/\(name)-\(isMixture(name) ? "f16" : "f32").gguf") }
    /// All but OLMoE's GQA fixture, which we refuse to write (llama.cpp's olmoe has as many
    /// key/value heads as query heads; its converter writes the file all the same).
    static let ggufWritten = ggufModels.filter { $0 != "tiny-olmoe" }
    static func outputs(_ name: String) -> [String] { ggufWritten.contains(name) ? ["m.tlm", "m.gguf"] : ["m.tlm"] }
    static let prompts = ["one-token", "mid", "long"]

    static func facts(_ model: String) throws -> JSONObject { try #require(reference[model]?.object) }
    static func ints(_ v: JSONValue?) -> [Int] { v!.array!.map { $0.int! } }
    static func numbers(_ v: JSONValue?) -> [Double] { v!.array!.map { $0.number! } }

    /// `model` converted to `output` (a .tlm or .gguf file) in `scheme`, loaded from it.
    static func converted(_ model: String, _ output: String, _ scheme: WeightScheme, in dir: TemporaryDirectory) throws -> any LanguageModel {
        var options = ConversionOptions()
        options.scheme = scheme
        options.format = output.hasSuffix(".gguf") ? .gguf : .tlm
        _ = try Converter.convert(input: Fixtures.model(model), output: dir.file(output), options: options)
        return try ModelLoader.load(dir.file(output), cache: .f32)
    }

    static func maxDifference(_ model: any LanguageModel, _ name: String, _ prompt: String) throws -> Double {
        let ref = try facts(name)[prompt]!.object!
        let logits = try Generator(model: model).lastLogits(ints(ref["input_ids"]))
        let expected = numbers(ref["last_logits"])
        guard logits.count == expected.count else { return .infinity }
        return zip(logits, expected).map { abs(Double($0) - $1) }.max()!
    }

    @Test(arguments: models)
    func f32LogitsMatchTransformersFromEveryFormat(_ name: String) throws {
        let dir = TemporaryDirectory()
        let models = try [ModelLoader.load(Fixtures.model(name), cache: .f32)] + Self.outputs(name).map { try Self.converted(name, $0, .f32, in: dir) }
        let modelType = try ModelFile.open(Fixtures.model(name)).config()!.modelType
        for model in models {
            #expect(model is LlamaModel && model.config.modelType == modelType, "\(model.source): \(model.config.modelType)")
            for prompt in Self.prompts {
                let diff = try Self.maxDifference(model, name, prompt)
                #expect(diff < 1e-4, "\(name) \(prompt) from \(model.source): max |Δlogit| = \(diff)")
            }
        }
    }

    /// llama.cpp's own converter's GGUF (fixtures/scripts/make_family_gguf.py) runs as the
    /// checkpoint: to 1e-4 in F32; in F16 (the mixtures) by the bound `reducedPrecisionStaysClose`
    /// sets F16, KL under 1e-4 and the same top token.
    @Test(arguments: ggufModels)
    func llamaCppsGGUFRunsAsTransformers(_ name: String) throws {
        let model = try ModelLoader.load(Self.llamaCppGGUF(name), cache: .f32)
        for prompt in Self.prompts {
            if Self.isMixture(name) {
                let ref = try Self.facts(name)[prompt]!.object!
                let logits = try Generator(model: model).lastLogits(Self.ints(ref["input_ids"])).map(Double.init)
                let expected = Self.numbers(ref["last_logits"])
                #expect(Self.kl(expected, logits) < 1e-4, "\(name) \(prompt) from llama.cpp's GGUF: KL")
                #expect(logits.indices.max { logits[$0] < logits[$1] } == expected.indices.max { expected[$0] < expected[$1] }, "\(name) \(prompt): top token")
            } else {
                let diff = try Self.maxDifference(model, name, prompt)
                #expect(diff < 1e-4, "\(name) \(prompt) from llama.cpp's GGUF: max |Δlogit| = \(diff)")
            }
        }
        // Its ledger is the checkpoint's.
        let file = try ModelFile.open(model.source)
        #expect(Ledger(tensors: file.tensors, config: try file.config(), source: name).uniqueParameters == (try Self.facts(name)["num_parameters"]!.int!))
    }

    /// Reduced precision is judged by what it does to the next-token distribution: KL from
    /// transformers' f32 distribution, and the same top token where the reference's top two
    /// are more than 0.1 apart. (A logit's absolute error says little where logits are
    /// large.) A mixture gets a looser bound in q8: an expert choice that was nearly a tie
    /// can go the other way, and then the token's MLP is another expert's.
    @Test(arguments: models, [WeightScheme.f16, .q8])
    func reducedPrecisionStaysClose(_ name: String, _ scheme: WeightScheme) throws {
        let mixture = Self.isMixture(name)
        let tolerance = scheme == .f16 ? 1e-4 : (mixture ? 0.2 : 0.02)
        let dir = TemporaryDirectory()
        for output in Self.outputs(name) {
            let model = try Self.converted(name, output, scheme, in: dir)
            // A GGUF's q8 is Q8_0, run as stored.
            #expect(model.weightFormat == (output.hasSuffix(".gguf") && scheme == .q8 ? "Q8_0" : scheme.rawValue))
            for prompt in Self.prompts {
                let ref = try Self.facts(name)[prompt]!.object!
                let logits = try Generator(model: model).lastLogits(Self.ints(ref["input_ids"])).map(Double.init)
                let expected = Self.numbers(ref["last_logits"])
                let kl = Self.kl(expected, logits)
                #expect(kl < tolerance, "\(name) \(scheme.rawValue) \(output) \(prompt): KL \(kl)")
                let sorted = expected.sorted(by: >)
                if sorted[0] - sorted[1] > 0.1 && !(mixture && scheme == .q8) {
                    #expect(logits.indices.max { logits[$0] < logits[$1] } == expected.indices.max { expected[$0] < expected[$1] },
                            "\(name) \(scheme.rawValue) \(output) \(prompt): top token")
                }
            }
        }
    }

    /// KL(p ‖ q) of the softmax distributions of two logit vectors.
    static func kl(_ p: [Double], _ q: [Double]) -> Double {
        func logSoftmax(_ x: [Double]) -> [Double] {
            let m = x.max()!, z = x.reduce(0) { $0 + exp($1 - m) }
            return x.map { $0 - m - log(z) }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        return zip(lp, lq).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }

    @Test(arguments: models)
    func greedyContinuationMatchesTransformers(_ name: String) throws {
        let greedy = try Self.facts(name)["greedy"]!.object!
        let expected = Self.ints(greedy["generated_ids"])
        let reliable = Self.numbers(greedy["top2_margins"]).firstIndex { $0 < 1e-3 } ?? expected.count
        #expect(reliable >= 4)
        var options = SamplingOptions()
        options.temperature = 0
        let model = try ModelLoader.load(Fixtures.model(name))
        let result = try Generator(model: model).generate(promptIDs: Self.ints(greedy["prompt_ids"]), maxTokens: expected.count, sampling: options)
        #expect(Array(result.generatedIDs.prefix(reliable)) == Array(expected.prefix(reliable)))
    }

    @Test(arguments: models)
    func batchedPromptEqualsTokenByToken(_ name: String) throws {
        let ids = Self.ints(try Self.facts(name)["long"]!.object!["input_ids"])
        let model = try ModelLoader.load(Fixtures.model(name), cache: .f32)
        let batched = try Generator(model: model).lastLogits(ids)
        let state = model.makeState()
        for id in ids { try model.forward([id], state: state) }
        let diff = zip(batched, state.logits()).map { abs($0 - $1) }.max()!
        #expect(diff < 1e-4, "\(name): \(diff)")
    }

    /// The ledger counts what transformers counts, the q/k norms under Other, and a
    /// configuration alone lists the same tensors the checkpoint holds.
    @Test(arguments: models)
    func theLedgerCountsWhatTransformersCounts(_ name: String) throws {
        let path = Fixtures.model(name)
        let file = try ModelFile.open(path)
        let config = try #require(try file.config())
        let ledger = Ledger(tensors: file.tensors, config: config, source: path)
        #expect(ledger.uniqueParameters == (try Self.facts(name)["num_parameters"]!.int!))
        #expect(ledger.unmatched.isEmpty)
        let synthetic = config.syntheticTensors()
        #expect(Set(synthetic.map(\.name)) == Set(file.tensors.map(\.name)))
        for t in synthetic { #expect(file.tensors.first { $0.name == t.name }?.shape == t.shape, "\(t.name)") }
        #expect(Ledger(config: config, source: name).uniqueParameters == ledger.uniqueParameters)
        // A mixture: what one token uses, as counted beside transformers' parameters.
        let active = try Self.facts(name)["active_parameters"]!.int!
        #expect(ledger.activeParameters == (config.experts > 0 ? active : nil))
        if config.experts > 0 {
            #expect(ledger.textReport().contains("Active per token"))
            let model = try ModelLoader.load(path)
            // Decoding reads the router and 2 of the 8 experts.
            let experts = ledger.expertParameters * 4
            #expect(model.weightBytesPerToken < (ledger.uniqueParameters * 4 - experts / 2), "\(model.weightBytesPerToken)")
        }
    }

    /// What llama.cpp would not load or would run otherwise is not written: an OLMoE with
    /// fewer key/value heads than query heads; and a GGUF that says it has experts but not
    /// how many a token uses is refused by the key's name.
    @Test func aMixtureLlamaCppWouldNotRunIsRefused() throws {
        let dir = TemporaryDirectory()
        let r = CLI.run(["convert", Fixtures.model("tiny-olmoe"), dir.file("m.gguf")])
        #expect(r.isOneErrorLine(containing: "it has 2 key/value heads for 4 query heads, and llama.cpp's olmoe loads only as many as query heads"), "\(r.status) \(r.stderr)")
        #expect(!fileExists(dir.file("m.gguf")))
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        gguf["llama.expert_count"] = .u32(8)
        gguf.write(to: dir.file("experts.gguf"))
        let run = CLI.run(["run", dir.file("experts.gguf"), "-p", "And", "-n", "1"])
        #expect(run.isOneErrorLine(containing: "missing or invalid llama.expert_used_count"), "\(run.status) \(run.stderr)")
        // With the count, the file is a Mixtral holding a dense MLP, which is named.
        gguf["llama.expert_used_count"] = .u32(2)
        gguf.write(to: dir.file("experts.gguf"))
        let dense = CLI.run(["run", dir.file("experts.gguf"), "-p", "And", "-n", "1"])
        #expect(dense.isOneErrorLine(containing: "tensor \"blk.0.ffn_down.weight\" is not used by the Mixtral runner"), "\(dense.status) \(dense.stderr)")
    }

    /// llama.cpp runs the mixtures we write as GGUF (each layer's experts stacked into one
    /// tensor per matrix) as we run them: its logits, recorded on the very bytes this test
    /// writes (fixtures/scripts/make_moe_gguf_goldens.py), against ours from the same file.
    /// OLMoE as an MHA checkpoint of tiny-olmoe's shape, since llama.cpp's olmoe loads no other.
    @Test func mixturesInGGUFRunAsLlamaCppRunsThem() throws {
        let golden = try Fixtures.json("expected/moe-gguf.json")
        let dir = TemporaryDirectory()
        var config = try Fixtures.json("models/tiny-olmoe/config.json")
        config["num_key_value_heads"] = config["num_attention_heads"]
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        let mha = dir.file("tiny-olmoe-mha")
        try makeDirectory(mha)
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: mha, seed: 4,
                                      tokenizer: TokenizerSource.load(Fixtures.model("tiny-olmoe") + "/tokenizer.json"))
        var checked: Set<String> = []
        for c in golden["cases"]!.array!.map({ $0.object! }) {
            let name = c["model"]!.string!, weights = c["weights"]!.string!
            let path = dir.file("\(name)-\(weights).gguf")
            if !fileExists(path) {
                var options = ConversionOptions()
                options.weights = .scheme(try #require(WeightScheme(rawValue: weights)))
                options.format = .gguf
                _ = try Converter.convert(input: name == "tiny-olmoe-mha" ? mha : Fixtures.model(name), output: path, options: options)
            }
            let file = try GGUFFile.open(path)
            let data = try MappedFile(path: path)
            let hash = xxh64(UnsafeRawBufferPointer(rebasing: data.bytes[file.dataStart...]))
            #expect(String(hash, radix: 16) == c["data_xxh64"]!.string!.drop { $0 == "0" }, "\(path): not the tensors llama.cpp ran")
            let logits = try Generator(model: ModelLoader.load(path, cache: .f32)).lastLogits(Self.ints(c["input_ids"])).map(Double.init)
            let theirs = Self.numbers(c["last_logits"])
            let spread = theirs.max()! - theirs.min()!
            let worst = zip(logits, theirs).map { abs($0 - $1) }.max()!
            // Both in f32 (ggml's own order of sums); Q8_0 quantizes the activations too.
            #expect(worst < (weights == "f32" ? 2e-3 : 2e-2) * spread, "\(name) \(weights) \(c["prompt"]!): max |Δ| \(worst) of a spread of \(spread)")
            #expect(Self.kl(theirs, logits) < (weights == "f32" ? 1e-5 : 1e-3), "\(name) \(weights) \(c["prompt"]!): KL")
            #expect(logits.indices.max { logits[$0] < logits[$1] } == theirs.indices.max { theirs[$0] < theirs[$1] }, "\(name) \(weights) \(c["prompt"]!): top token")
            checked.insert(name)
        }
        #expect(checked == ["tiny-mixtral", "tiny-qwen3-moe", "tiny-olmoe-mha"])
    }

    /// The GGUF we write is the one llama.cpp's converter writes: the same architecture, the
    /// same tensors in the same shapes and types (F32, or F16 for the mixtures), and the same
    /// model settings.
    @Test(arguments: ggufWritten)
    func theGGUFWeWriteIsLlamaCppsConvertersGGUF(_ name: String) throws {
        try Self.expectWrittenAsLlamaCppsConverter(Fixtures.model(name), Self.isMixture(name) ? .f16 : .f32, Self.llamaCppGGUF(name))
    }

    static func expectWrittenAsLlamaCppsConverter(_ model: String, _ scheme: WeightScheme, _ converters: String) throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = scheme
        options.format = .gguf
        _ = try Converter.convert(input: model, output: dir.file("m.gguf"), options: options)
        let ours = try GGUFFile.open(dir.file("m.gguf")), theirs = try GGUFFile.open(converters)
        let arch = try #require(theirs.string(GGUFKey.architecture))
        #expect(ours.string(GGUFKey.architecture) == arch)
        func tensors(_ f: GGUFFile) -> [String: [Int]] { Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0.dimensions) }) }
        #expect(tensors(ours) == tensors(theirs))
        for t in ours.tensors {
            // The same values too (Gemma's norm weights as the 1 + w llama.cpp keeps).
            let other = try #require(theirs.tensor(named: t.name))
            #expect(t.type == other.type && ours.data(for: t).elementsEqual(theirs.data(for: other)), "\(t.name)")
        }
        // Every setting of the model llama.cpp reads, as its converter wrote it.
        for key in GGUFKey.Model.allCases.map({ $0.key(arch) }) where theirs.value(key) != nil {
            if let number = theirs.value(key)?.number {
                // A 0 llama.cpp writes for "none" (Phi-3's sliding window) is the key's absence.
                #expect(ours.value(key)?.number == number || (number == 0 && ours.value(key) == nil), "\(key)")
            } else {
                #expect(ours.value(key) == theirs.value(key), "\(key)")
            }
        }
    }

    /// llama.cpp's converter's Gemma 2 (fixtures/scripts/make_family_gguf.py, F16): its gemma2
    /// has no key for query_pre_attn_scalar and scales scores by head_dim^-1/2, so the file is
    /// made from tiny-gemma2 with that scalar set to its head_dim, and runs as transformers runs
    /// that checkpoint (KL under 1e-4, the same top token). The GGUF we write from the same
    /// checkpoint is the converter's, tensor for tensor and key for key.
    @Test func llamaCppsGemma2GGUFRunsAsTransformers() throws {
        let converters = Fixtures.path("gguf/tiny-gemma2-f16.gguf")
        let reference = try Fixtures.json("expected/gemma2-gguf.json")
        let model = try ModelLoader.load(converters, cache: .f32)
        #expect(model.config.modelType == "gemma2" && model.config.queryPreAttentionScalar == 16)
        for prompt in Self.prompts {
            let ref = try #require(reference[prompt]?.object)
            let logits = try Generator(model: model).lastLogits(Self.ints(ref["input_ids"])).map(Double.init)
            let expected = Self.numbers(ref["last_logits"])
            #expect(Self.kl(expected, logits) < 1e-4, "\(prompt): KL \(Self.kl(expected, logits))")
            #expect(logits.indices.max { logits[$0] < logits[$1] } == expected.indices.max { expected[$0] < expected[$1] }, "\(prompt): top token")
        }
        let dir = TemporaryDirectory()
        let checkpoint = try editedModel("tiny-gemma2", in: dir, files: ["config.json": try editedText(
            Fixtures.model("tiny-gemma2") + "/config.json", [("\"query_pre_attn_scalar\": 32", "\"query_pre_attn_scalar\": 16")])])
        try Self.expectWrittenAsLlamaCppsConverter(checkpoint, .f16, converters)
    }

    /// Gemma 2 in GGUF: the keys llama.cpp's gemma2 reads (sliding window, both soft caps),
    /// what it derives (every other layer sliding, scores by head_dim^-1/2) checked before
    /// writing, and the file runs as the checkpoint does. (llama.cpp's own run of such a file
    /// gave the same top logits, 1.118, 0.917, 0.891, when this was written.)
    @Test func gemma2IsWrittenAsLlamaCppReadsIt() throws {
        let dir = TemporaryDirectory()
        let refused = CLI.run(["convert", Fixtures.model("tiny-gemma2"), dir.file("r.gguf")])
        #expect(refused.isOneErrorLine(containing: "its query_pre_attn_scalar is 32, and llama.cpp's gemma2 scales scores by 16^-1/2"), "\(refused.stderr)")
        var config = try Fixtures.json("models/tiny-gemma2/config.json")
        config["query_pre_attn_scalar"] = .int(16)
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        try makeDirectory(dir.file("m"))
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("m"), seed: 4,
                                      tokenizer: TokenizerSource.load(Fixtures.model("tiny-gemma2") + "/tokenizer.json"))
        var options = ConversionOptions()
        options.weights = .scheme(.f32)
        options.format = .gguf
        _ = try Converter.convert(input: dir.file("m"), output: dir.file("m.gguf"), options: options)
        let file = try GGUFFile.open(dir.file("m.gguf"))
        #expect(file.string(GGUFKey.architecture) == "gemma2")
        #expect(file.value("gemma2.attention.sliding_window") == .u32(8) && file.value("gemma2.attn_logit_softcapping") == .f32(2)
                && file.value("gemma2.final_logit_softcapping") == .f32(5))
        let read = try file.modelConfig(), written = try ModelConfig.load(dir.file("config.json"))
        #expect(read.slidingLayers == written.slidingLayers && read.queryPreAttentionScalar == written.queryPreAttentionScalar)
        let ids = [5, 17, 29, 41, 3, 8]
        let a = try Generator(model: ModelLoader.load(dir.file("m"), cache: .f32)).lastLogits(ids)
        let b = try Generator(model: ModelLoader.load(dir.file("m.gguf"), cache: .f32)).lastLogits(ids)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(zip(a, b).map { abs($0 - $1) }.max() ?? 0)")
    }

    /// llama.cpp's Gemma GGUF (norm weights stored as 1 + w) becomes a .tlm file with the
    /// checkpoint's own w, and runs as the GGUF does.
    @Test(arguments: ["tiny-gemma", "tiny-gemma3"])
    func aGemmaGGUFBecomesATLMFileWithTheCheckpointsNorms(_ name: String) throws {
        let dir = TemporaryDirectory()
        let gguf = Fixtures.path("gguf/\(name)-f32.gguf")
        _ = try Converter.convert(input: gguf, output: dir.file("m.tlm"), options: ConversionOptions())
        let tlm = try TLMFile(path: dir.file("m.tlm")), checkpoint = try SafetensorsFile(path: Fixtures.model(name) + "/model.safetensors")
        let norm = try #require(tlm.tensors.first { $0.name.hasSuffix("input_layernorm.weight") })
        let stored = try #require(checkpoint.tensor(named: norm.name))
        let raw = try tlm.rawBytes(of: norm)
        let ours = try floatValues(raw.bytes, info: TensorInfo(name: norm.name, dtype: .float32, shape: norm.shape, dataOffsets: 0..<norm.rawBytes))
        let theirs = try floatValues(checkpoint.data(for: stored), info: stored)
        #expect(zip(ours, theirs).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0)")
        let ids = [5, 17, 29, 41, 3, 8]
        let a = try Generator(model: ModelLoader.load(gguf, cache: .f32)).lastLogits(ids)
        let b = try Generator(model: ModelLoader.load(dir.file("m.tlm"), cache: .f32)).lastLogits(ids)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(zip(a, b).map { abs($0 - $1) }.max() ?? 0)")
    }

    /// A checkpoint missing a tensor its family needs is refused by name, never run without it.
    @Test func aMissingQueryNormIsRefusedByName() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-qwen3", in: dir) { tensors in tensors.removeAll { $0.spec.name == "model.layers.1.self_attn.q_norm.weight" } }
        let r = CLI.run(["run", model, "-p", "And", "-n", "1"])
        #expect(r.isOneErrorLine(containing: "the model has no tensor \"model.layers.1.self_attn.q_norm.weight\""), "\(r.status) \(r.stderr)")
    }
}
