// Writing ggml's block types: our quantizers against ggml's own bytes, llama-quantize's
// mixes tensor for tensor (types and bytes) against llama_model_quantize, and the .tlm
// files that hold the same blocks. Goldens: fixtures/scripts/make_quant_writer_goldens.py.

import Testing
@testable import TensorLedger

@Suite struct QuantWriterTests {
    static var mixes: JSONObject { get throws { try mixesStorage.get() } }
    private static let mixesStorage = Loaded { try Fixtures.json("expected/quant-mixes.json") }

    /// Each type's blocks of edge-case rows (zeros, one sign, outliers, tiny values,
    /// constants) are ggml_quantize_chunk's, byte for byte.
    @Test(arguments: ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL"])
    func quantizersWriteGGMLsBytes(_ name: String) throws {
        let file = try GGUFFile.open(Fixtures.path("gguf/quantizer-goldens.gguf"))
        let source = try #require(file.tensor(named: "source")), golden = try #require(file.tensor(named: name))
        #expect(golden.type.name == name)
        let values = Array(file.data(for: source).bindMemory(to: Float.self))
        let ours = try BlockQuantizer.quantize(values, type: golden.type).get()
        let theirs = Array(file.data(for: golden))
        let (size, bytes) = golden.type.blockLayout
        let differing = (0..<(values.count / size)).filter { b in ours[(b * bytes)..<((b + 1) * bytes)] != theirs[(b * bytes)..<((b + 1) * bytes)] }
        #expect(ours.count == theirs.count && differing.isEmpty, "\(name): blocks \(differing.prefix(8)) of \(values.count / size) differ")
    }

    @Test func nonFiniteValuesAndOverflowingScalesAreRefused() throws {
        var x = [Float](repeating: 0.25, count: 512)
        x[300] = .nan
        #expect(throws: QuantizationFailure(index: 300, overflow: false)) { try BlockQuantizer.quantize(x, type: .q4_K).get() }
        x[300] = 0
        x[40] = 3e9  // a Q4_0 scale of max/8 beyond f16
        #expect(throws: QuantizationFailure(index: 32, overflow: true)) { try BlockQuantizer.quantize(x, type: .q4_0).get() }
    }

    /// phi3-wide: a Phi-3 of width 256 and 9 layers, as the golden script made it.
    static func model(_ name: String, in dir: TemporaryDirectory) throws -> String {
        guard name == "phi3-wide" else { return Fixtures.model(name) }
        let spec = try #require(try mixes["phi3_wide"]?.object)
        var config = try Fixtures.json("models/tiny-phi3/config.json")
        let overrides = try #require(spec["config"]?.object)
        for (k, v) in zip(overrides.keys, overrides.values) { config[k] = v }
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        let tokenizer = try TokenizerSource.load(Fixtures.model("tiny-phi3") + "/tokenizer.json")
        try makeDirectory(dir.file("phi3-wide"))
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("phi3-wide"),
                                      seed: UInt64(try #require(spec["seed"]?.number)), tokenizer: tokenizer)
        return dir.file("phi3-wide")
    }

    /// Every mix, on models whose rows are not whole 256-value blocks (llama.cpp's fallback
    /// types), GPT-2's fused Q·K·V and tied head, and a 9-layer model (which layers get
    /// more bits): the same tensors, types and bytes as llama_model_quantize's file.
    @Test(arguments: ["gpt2-tiny", "tiny-llama", "tiny-phi3", "tiny-genesis", "tiny-mixtral", "tiny-qwen3-moe", "phi3-wide"])
    func mixesAreLlamaQuantizes(_ name: String) throws {
        let dir = TemporaryDirectory()
        let expected = try #require(try Self.mixes["models"]?.object?[name]?.object)
        let model = try Self.model(name, in: dir)
        for (mixName, tensors) in zip(expected.keys, expected.values) {
            var options = ConversionOptions()
            options.weights = try #require(WeightChoice(name: mixName))
            options.format = .gguf
            let out = dir.file("\(mixName).gguf")
            _ = try Converter.convert(input: model, output: out, options: options)
            let file = try GGUFFile.open(out)
            let golden = try #require(tensors.object)
            #expect(file.tensors.map(\.name).sorted() == golden.keys.sorted(), "\(name) \(mixName)")
            for t in file.tensors {
                let entry = golden[t.name]?.array ?? []
                let type = entry.first?.string ?? "-", sum = entry.last?.string ?? "-"
                let ours = String(TLMFormat.checksum(file.data(for: t)), radix: 16)
                #expect(t.type.name == type, "\(name) \(mixName) \(t.name): \(t.type.name), llama.cpp \(type)")
                #expect(String(repeating: "0", count: 16 - ours.count) + ours == sum, "\(name) \(mixName) \(t.name): the bytes differ")
            }
            #expect(file.value(GGUFKey.fileType) == .u32(try #require(QuantMix(name: mixName)).fileType))
        }
    }

    /// The Q4_K_M and Q3_K_M files llama.cpp made from the wide checkpoint are what convert
    /// writes from it, every tensor's type and bytes (BlockTypeTests.wide checks them).
    @Test(arguments: ["q4_k_m", "q3_k_m"])
    func theKQuantFilesAreWhatConvertWrites(_ mix: String) throws {
        let dir = TemporaryDirectory(), file = try GGUFFile.open(try BlockTypeTests.wide(mix, in: dir))
        #expect(file.tensors.count == (try BlockTypeTests.reference[mix]?.object?["tensors"]?.object?.count))
    }

    /// GGUF to GGUF is llama-quantize: from the F32 GGUF llama.cpp quantized, the same
    /// file's tensors, and every key of the source kept but the file type.
    @Test(arguments: ["q4_k_m", "q3_k_m"])
    func aGGUFQuantizesAsLlamaQuantizeDoes(_ mix: String) throws {
        let dir = TemporaryDirectory(), other = TemporaryDirectory()
        var f32 = ConversionOptions()
        f32.weights = .scheme(.f32)
        f32.format = .gguf
        _ = try Converter.convert(input: try BlockTypeTests.wideCheckpoint(in: dir), output: dir.file("f32.gguf"), options: f32)
        var options = ConversionOptions()
        options.weights = try #require(WeightChoice(name: mix))
        options.format = .gguf
        let report = try Converter.convert(input: dir.file("f32.gguf"), output: dir.file("ours.gguf"), options: options)
        #expect(report.items.contains { ($0.quality?.snrDecibels ?? 0) > 10 })
        let ours = try GGUFFile.open(dir.file("ours.gguf")), theirs = try GGUFFile.open(try BlockTypeTests.wide(mix, in: other))
        let source = try GGUFFile.open(dir.file("f32.gguf"))
        #expect(ours.tensors.map(\.name) == source.tensors.map(\.name))
        for t in theirs.tensors {
            let o = try #require(ours.tensor(named: t.name))
            #expect(o.type == t.type && ours.data(for: o).elementsEqual(theirs.data(for: t)), "\(mix) \(t.name)")
        }
        for (key, value) in source.metadata where key != GGUFKey.fileType {
            #expect(ours.value(key) == value, "\(key)")
        }
        #expect(ours.value(GGUFKey.fileType) == theirs.value(GGUFKey.fileType))
    }

    /// A .tlm file holds the same blocks, runs them as stored, and gives the GGUF's logits;
    /// a K-quant GGUF becomes a .tlm file without requantizing.
    @Test func tlmFilesHoldTheBlocks() throws {
        let dir = TemporaryDirectory(), other = TemporaryDirectory()
        let model = try BlockTypeTests.wideCheckpoint(in: dir)
        var options = ConversionOptions()
        options.weights = .mix(.q4_k_m)
        let report = try Converter.convert(input: model, output: dir.file("m.tlm"), options: options)
        #expect(Set(report.items.filter { $0.shape.count == 2 }.map(\.scheme)) == [.blocks(.q4_K), .blocks(.q6_K)])
        #expect(report.items.allSatisfy { $0.quality == nil || $0.quality!.snrDecibels > 20 })
        let fromGGUF = try Converter.convert(input: try BlockTypeTests.wide("q4_k_m", in: other), output: dir.file("g.tlm"), options: ConversionOptions())
        #expect(fromGGUF.items.filter { $0.shape.count == 2 }.allSatisfy { $0.scheme.blockType != nil })

        let prompt = try BlockTypeTests.prompt
        let gguf = try Generator(model: ModelLoader.load(try BlockTypeTests.wide("q4_k_m", in: other), cache: .f32)).lastLogits(prompt)
        for tlm in ["m.tlm", "g.tlm"] {
            let loaded = try ModelLoader.load(dir.file(tlm), cache: .f32)
            #expect(loaded.weightFormat == "Q4_K+Q6_K")
            #expect(try Generator(model: loaded).lastLogits(prompt) == gguf, "\(tlm): the logits are not the GGUF's")
        }
    }

    /// An f16 matrix is widened and quantized a band of rows at a time; a NaN in a late
    /// band is still named where the checkpoint has it.
    @Test func aBadValueInALaterBandIsNamedWhereItIs() throws {
        let dir = TemporaryDirectory()
        var config = try Fixtures.json("models/tiny-llama/config.json")
        config["vocab_size"] = .int(40_000)  // the embedding: 40,000 rows of 64, three bands
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        try makeDirectory(dir.file("m"))
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("m"), dtype: .float16, seed: 5)
        let file = try SafetensorsFile(path: dir.file("m/model.safetensors"))
        let tensor = "model.embed_tokens.weight", index = 30_000 * 64 + 7
        let at = try #require(file.tensor(named: tensor)).dataOffsets.lowerBound + file.header.dataStart + 2 * index
        var bytes = try readWholeFile(dir.file("m/model.safetensors"), limit: 1 << 30)
        bytes[at] = 0x00
        bytes[at + 1] = 0x7E  // an f16 NaN
        writeFile(dir.file("m/model.safetensors"), bytes)
        for weights in [WeightChoice.mix(.q4_k_m), .scheme(.q8)] {
            var options = ConversionOptions()
            options.weights = weights
            options.format = .gguf
            #expect(throws: QuantizationError.nonFinite(tensor: tensor, index: index), "\(weights)") {
                _ = try Converter.convert(input: dir.file("m"), output: dir.file("m.gguf"), options: options)
            }
        }
    }

    /// --weights takes llama-quantize's names in any case, and nothing else.
    @Test func mixesAreNamedAsLlamaQuantizeNamesThem() throws {
        #expect(WeightChoice(name: "Q4_K_M") == .mix(.q4_k_m) && WeightChoice(name: "q4_k") == .mix(.q4_k_m))
        #expect(WeightChoice(name: "Q8_0") == .scheme(.q8) && WeightChoice(name: "Q3_K") == .mix(.q3_k_m))
        #expect(WeightChoice(name: "q4_k_x") == nil && WeightChoice(name: "q4_k") != .scheme(.blocks(.q4_K)))
        let dir = TemporaryDirectory()
        #expect(CLI.run(["convert", Fixtures.model("tiny-llama"), dir.file("m.gguf"), "--weights", "q4_k_x"]).status == 64)
        #expect(!fileExists(dir.file("m.gguf")))
    }

}
