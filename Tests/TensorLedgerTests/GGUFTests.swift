// GGUF files against the `gguf` package that wrote them (fixtures/scripts/make_gguf_fixtures.py)
// and against the same models' safetensors checkpoints and transformers' logits; and
// malformed files, each refused with the reason.

import Testing
@testable import TensorLedger

@Suite struct GGUFTests {
    static var reference: JSONObject { get throws { try referenceStorage.get() } }
    private static let referenceStorage = Loaded { try Fixtures.json("expected/gguf.json")["files"]?.object ?? { throw FixtureError.notAnObject("expected/gguf.json files") }() }
    /// Empty when the fixture is missing; `theReferenceIsThere` then fails.
    static let files = (try? reference.keys.sorted()) ?? []

    @Test func theReferenceIsThere() throws {
        #expect(try Self.reference.count >= 6)
    }

    static func path(_ name: String) -> String { Fixtures.path("gguf/\(name)") }
    static func model(_ gguf: String) -> String { String(gguf.split(separator: "-").prefix(2).joined(separator: "-")) }

    @Test(arguments: files)
    func tensorsAreWhatTheGGUFPackageWrote(_ name: String) throws {
        let file = try GGUFFile.open(Self.path(name))
        let expected = try Self.reference[name]!.object!["tensors"]!.array!.map { $0.object! }
        #expect(file.tensors.map(\.name).sorted() == expected.map { $0["name"]!.string! }.sorted())
        for e in expected {
            let t = try #require(file.tensor(named: e["name"]!.string!))
            #expect(t.type.name == e["type"]!.string!, "\(t.name)")
            #expect(Array(t.dimensions.reversed()) == e["shape"]!.array!.map { $0.int! }, "\(t.name)")
        }
        #expect(file.alignment == 32 && file.dataStart % 32 == 0)
    }

    @Test(arguments: files.filter { $0.hasSuffix("q8_0.gguf") })
    func q8_0IsDequantizedAsTheGGUFPackageDoes(_ name: String) throws {
        let file = try GGUFFile.open(Self.path(name))
        let source = GGUFWeights(file: file, config: try file.modelConfig())
        for (tensor, values) in zip(try Self.reference[name]!.object!["dequantized"]!.object!.keys, try Self.reference[name]!.object!["dequantized"]!.object!.values) {
            let mapping = try #require(source.byName.values.first { $0.gguf.name == tensor })
            let (cols, rows) = (mapping.gguf.dimensions[0], mapping.gguf.dimensions[1])
            let matrix = try source.matrix(mapping.info.name, rows: rows, cols: cols, conv1D: false)
            var got = [Float](repeating: 0, count: 2 * cols)
            got.withUnsafeMutableBufferPointer { p in
                matrix.row(0, into: p.baseAddress!)
                matrix.row(1, into: p.baseAddress! + cols)
            }
            #expect(got == values.array!.map { Float($0.number!) }, "\(name) \(tensor)")
        }
    }

    @Test(arguments: files)
    func theLedgerIsTheCheckpointsRowForRow(_ name: String) throws {
        let (gguf, _) = try ModelSource.ledger(Self.path(name))
        let (checkpoint, _) = try ModelSource.ledger(Fixtures.model(Self.model(name)))
        #expect(gguf.rows.count == checkpoint.rows.count)
        for (a, b) in zip(gguf.rows, checkpoint.rows) {
            #expect(a.category == b.category && a.matrices == b.matrices && a.parameters == b.parameters && a.tied == b.tied && a.shapes == b.shapes,
                    "\(name) \(a.category)")
        }
        #expect(gguf.uniqueParameters == checkpoint.uniqueParameters)
    }

    @Test(arguments: ["tiny-llama-f32.gguf", "tiny-qwen2-f32.gguf", "tiny-llama-q8_0.gguf", "tiny-qwen2-q8_0.gguf"])
    func runsAsTheCheckpointDoes(_ name: String) throws {
        let model = try ModelLoader.load(Self.path(name), cache: .f32)
        let facts = try LlamaFamilyTests.facts(Self.model(name))
        let tolerance = name.contains("f32") ? 1e-4 : 0.25
        for prompt in LlamaFamilyTests.prompts {
            let ref = facts[prompt]!.object!
            let logits = try Generator(model: model).lastLogits(LlamaFamilyTests.ints(ref["input_ids"]))
            let diff = LlamaFamilyTests.maxDifference(logits, LlamaFamilyTests.numbers(ref["last_logits"]))
            #expect(diff < tolerance, "\(name) \(prompt): max |Δlogit| = \(diff)")
        }
    }

    @Test(arguments: ["tiny-llama-f32.gguf", "tiny-qwen2-f32.gguf"])
    func theTokenizerIsTheCheckpoints(_ name: String) throws {
        let tokenizer = try TokenizerSource.load(Self.path(name))
        for c in try LlamaTokenizerTests.cases(Self.model(name)) {
            let text = c["text"]!.string!
            #expect(tokenizer.encode(text) == LlamaFamilyTests.ints(c["ids"]), "\(name): \(text.debugDescription)")
            #expect(try tokenizer.decode(LlamaFamilyTests.ints(c["ids"])) == c["decoded"]!.string!, "\(name) decode: \(text.debugDescription)")
        }
    }

    @Test func theChatTemplateComesFromTheFile() throws {
        let config = try TokenizerConfig.load(forModel: Self.path("tiny-qwen2-q8_0.gguf"))
        #expect(config.chatTemplate.map(ChatTemplate.detect) == .chatml)
    }

    // MARK: Malformed files

    /// A GGUF file built field by field, to break one field at a time.
    struct Builder {
        var version: UInt32 = 3
        var keys: [(String, UInt32, [UInt8])] = [("general.architecture", 8, Builder.string("llama"))]
        var tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)] = [("a", [32, 2], 0, 0), ("b", [64], 8, 256)]
        var dataBytes = 256 + 68

        static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        static func string(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }

        var bytes: [UInt8] {
            var out = Array("GGUF".utf8) + Builder.u32(version) + Builder.u64(UInt64(tensors.count)) + Builder.u64(UInt64(keys.count))
            for (k, type, value) in keys { out += Builder.string(k) + Builder.u32(type) + value }
            for t in tensors {
                out += Builder.string(t.name) + Builder.u32(UInt32(t.dims.count))
                for d in t.dims { out += Builder.u64(d) }
                out += Builder.u32(t.type) + Builder.u64(t.offset)
            }
            while out.count % 32 != 0 { out.append(0) }
            return out + [UInt8](repeating: 0, count: dataBytes)
        }
    }

    @Test func aWellFormedFileReads() throws {
        let file = try GGUFFile.parse(Builder().bytes, path: "ok")
        #expect(file.tensors.map(\.byteCount) == [256, 68])
    }

    /// Each breakage and the words its error must hold.
    static let malformed: [(String, String)] = [
        ("big-endian", "big-endian"), ("version 1", "version 1"), ("duplicate key", "appears twice"),
        ("duplicate tensor", "appears twice"), ("unknown value type", "unknown value type 13"), ("bad alignment", "power of two"),
        ("five dimensions", "5 dimensions"), ("unknown type", "unknown ggml type 99"), ("partial block", "whole number of Q8_0 blocks"),
        ("misaligned", "multiple of the alignment"), ("out of order", "expected 256"), ("overflow", "overflow"),
        ("truncated data", "past the end"), ("huge count", "runs past the end"),
        ("long name", "at most 63"), ("empty key", "empty key"), ("alignment as u64", "not u32"), ("nested array", "array of arrays"),
    ]

    /// What ggml's reader accepts, this reader accepts: a scalar (no dimensions), any power
    /// of two as the alignment, a bool byte other than 0 and 1.
    static let acceptedOddities = ["scalar", "alignment 2^31", "bool 7"]

    static func breakIt(_ name: String, _ b: inout Builder) {
        switch name {
        case "big-endian": b.version = UInt32(3).byteSwapped
        case "version 1": b.version = 1
        case "duplicate key": b.keys.append(b.keys[0])
        case "duplicate tensor": b.tensors[1].name = "a"
        case "unknown value type": b.keys[0].1 = 13
        case "bad alignment": b.keys.append(("general.alignment", 4, Builder.u32(24)))
        case "five dimensions": b.tensors[0].dims = [32, 1, 1, 1, 2]
        case "unknown type": b.tensors[0].type = 99
        case "partial block": b.tensors[1].dims = [48]
        case "misaligned": b.tensors[1].offset = 260
        case "out of order": b.tensors[1].offset = 288
        case "overflow": b.tensors[0].dims = [1 << 40, 1 << 40]
        case "truncated data": b.dataBytes = 300
        case "huge count": b.keys[0].2 = Builder.u64(1 << 60)
        case "long name": b.tensors[0].name = String(repeating: "x", count: 64)
        case "empty key": b.keys.append(("", 4, Builder.u32(1)))
        case "alignment as u64": b.keys.append(("general.alignment", 10, Builder.u64(32)))
        case "nested array": b.keys.append(("x", 9, Builder.u32(9) + Builder.u64(1) + Builder.u32(4) + Builder.u64(0)))
        case "scalar": b.tensors[1].dims = []; b.tensors[1].type = 0; b.dataBytes = 260
        case "alignment 2^31": b.keys.append(("general.alignment", 4, Builder.u32(1 << 31))); b.tensors = []; b.dataBytes = 0
        case "bool 7": b.keys.append(("x", 7, [7]))
        default: break
        }
    }

    @Test(arguments: acceptedOddities)
    func whatGGMLAcceptsIsAccepted(_ name: String) throws {
        var b = Builder()
        Self.breakIt(name, &b)
        let file = try GGUFFile.parse(b.bytes, path: name)
        switch name {
        case "scalar": #expect(file.tensors[1].dimensions == [1] && file.tensors[1].byteCount == 4)
        case "alignment 2^31": #expect(file.alignment == 1 << 31)
        default: #expect(file.value("x") == .bool(true))
        }
    }

    @Test(arguments: malformed)
    func malformedFilesAreRefusedWithTheReason(_ name: String, _ reason: String) {
        var b = Builder()
        Self.breakIt(name, &b)
        do {
            _ = try GGUFFile.parse(b.bytes, path: name)
            // parse() checks data bounds only on open(); check the truncated file through a file.
            if name == "truncated data" {
                let dir = TemporaryDirectory()
                writeFile(dir.file("t.gguf"), b.bytes)
                _ = try GGUFFile.open(dir.file("t.gguf"))
            }
            Issue.record("\(name) was accepted")
        } catch {
            #expect("\(error)".contains(reason), "\(name): \(error)")
        }
    }

    /// Every `tokenizer.ggml.pre` name llama.cpp gives a regex implemented here loads with
    /// that split (smaug-bpe, which llama.cpp's converter writes for many Llama 3
    /// derivatives, is Llama 3's); another name is refused by that name.
    @Test func preTokenizerNamesAreLlamaCpps() throws {
        let dir = TemporaryDirectory()
        func pipeline(_ pre: String) throws -> TokenizerPipeline {
            var gguf = try GGUFEdit(Self.path("tiny-qwen2-f32.gguf"))
            gguf["tokenizer.ggml.pre"] = .string(pre)
            gguf.write(to: dir.file("\(pre).gguf"))
            return try BPETokenizer.fromGGUF(try GGUFFile.open(dir.file("\(pre).gguf")), source: pre).pipeline
        }
        let llama3 = try pipeline("llama-bpe").preTokenizer
        for (name, same) in [("smaug-bpe", "llama-bpe"), ("dbrx", "llama-bpe"), ("olmo", "gpt-2"), ("command-r", "smollm"),
                             ("stablelm2", "qwen2"), ("deepseek-r1-qwen", "qwen2"), ("grok-2", "qwen2"), ("glm4", "llama-bpe"),
                             ("hunyuan-dense", "deepseek-v3")] {
            #expect(try pipeline(name).preTokenizer == pipeline(same).preTokenizer, "\(name)")
        }
        #expect(try pipeline("smaug-bpe").preTokenizer == llama3)
        #expect(try pipeline("qwen2").preTokenizer != llama3)
        // Llama 3's names look a piece up whole before merging, as llama.cpp does; smaug-bpe
        // and dbrx, whose splits are Llama 3's, do not (nor in llama.cpp).
        for name in ["llama-bpe", "llama3", "falcon3", "pixtral"] { #expect(try pipeline(name).ignoreMerges, "\(name)") }
        for name in ["smaug-bpe", "dbrx", "qwen2", "gpt-2", "smollm", "chatglm-bpe"] { #expect(try !pipeline(name).ignoreMerges, "\(name)") }
        #expect(try pipeline("glm4").ignoreMerges)
        // GLM's BOS is never added, as in llama.cpp, even where the file asks for it.
        var gguf = try GGUFEdit(Self.path("tiny-qwen2-f32.gguf"))
        gguf["tokenizer.ggml.add_bos_token"] = .bool(true)
        gguf["tokenizer.ggml.bos_token_id"] = .u32(0)
        for (pre, bos) in [("glm4", false), ("qwen2", true)] {
            gguf["tokenizer.ggml.pre"] = .string(pre)
            gguf.write(to: dir.file("bos.gguf"))
            #expect(try BPETokenizer.fromGGUF(try GGUFFile.open(dir.file("bos.gguf")), source: pre).pipeline.prefixTokens.isEmpty == !bos, "\(pre)")
        }
        #expect(throws: TokenizerError.self) { try pipeline("kimi-k2") }
        do { _ = try pipeline("kimi-k2"); Issue.record("kimi-k2 loaded") } catch {
            #expect("\(error)".contains("tokenizer.ggml.pre kimi-k2"))
        }
        #expect(try pipeline("tekken").ignoreMerges && !pipeline("gpt-4o").ignoreMerges)
    }
}

extension GGUFTests {
    /// A piece that is a token but that the merges do not reach (Llama 3's "ĠViệt", from
    /// llama.cpp's vectors): one token under llama-bpe, where the piece is looked up whole,
    /// the merges' tokens under smaug-bpe. Here " zq" is added to tiny-qwen2's vocabulary
    /// with no merge that makes it.
    @Test func llama3LooksUpWholePiecesBeforeMerging() throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Self.path("tiny-qwen2-f32.gguf"))
        guard case .array(_, let tokens)? = gguf["tokenizer.ggml.tokens"], case .array(_, let types)? = gguf["tokenizer.ggml.token_type"] else {
            Issue.record("no vocabulary"); return
        }
        let whole = tokens.count
        gguf["tokenizer.ggml.tokens"] = .array(.string, tokens + [.string("Ġzq")])
        gguf["tokenizer.ggml.token_type"] = .array(.i32, types + [.i32(1)])
        func encode(_ pre: String) throws -> [Int] {
            gguf["tokenizer.ggml.pre"] = .string(pre)
            gguf.write(to: dir.file("\(pre).gguf"))
            return try BPETokenizer.fromGGUF(try GGUFFile.open(dir.file("\(pre).gguf")), source: pre).encode("a zq").map { Int($0) }
        }
        let merged = try encode("smaug-bpe")
        #expect(!merged.contains(whole) && merged.count > 2, "\(merged)")
        #expect(try encode("llama-bpe") == [merged[0], whole])
    }
}

extension GGUFTests {
    /// Falcon's, Qwen3.5's and DeepSeek's splits survive the tokenizer.json that .tlm files
    /// and synth write (Falcon's punctuation as tokenizers' `Punctuation`, the others as `Split`
    /// regexes), and the GGUF written from it names the same pre-tokenizer (smaug-bpe stays
    /// smaug-bpe: as llama-bpe, llama.cpp would look its pieces up whole).
    @Test(arguments: ["falcon", "qwen35", "deepseek-llm", "deepseek-coder", "deepseek-v3", "llama-bpe", "smaug-bpe", "tekken", "gpt-4o", "seed-coder", "ufakzeka"])
    func splitsSurviveTokenizerJSON(_ pre: String) throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Self.path("tiny-qwen2-f32.gguf"))
        gguf["tokenizer.ggml.pre"] = .string(pre)
        gguf.write(to: dir.file("in.gguf"))
        let tokenizer = try BPETokenizer.fromGGUF(try GGUFFile.open(dir.file("in.gguf")), source: pre)
        let reread = try BPETokenizer.fromTokenizerJSON(tokenizer.tokenizerJSON(), source: pre)
        #expect(reread.pipeline.preTokenizer == tokenizer.pipeline.preTokenizer)
        let text = "Cafe\u{301} $1234.5!! «ok» x"
        #expect(reread.encode(text) == tokenizer.encode(text))
        let model = dir.file("model")
        try makeDirectory(model)
        for name in ["model.safetensors", "config.json", "tokenizer_config.json"] { copyFile(Fixtures.model("tiny-qwen2") + "/" + name, model + "/" + name) }
        writeFile(model + "/tokenizer.json", tokenizer.tokenizerJSON())
        var options = ConversionOptions()
        options.format = .gguf
        _ = try Converter.convert(input: model, output: dir.file("out.gguf"), options: options)
        #expect(try GGUFEdit(dir.file("out.gguf"))["tokenizer.ggml.pre"] == .string(pre))
    }
}

@Suite struct GGMLDequantizeTests {
    /// Every type the runner dequantizes, value for value against `gguf.quants.dequantize`.
    @Test(arguments: ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k", "q2_k", "q3_k", "iq4_xs", "iq4_nl"])
    func dequantizesAsTheGGUFPackageDoes(_ name: String) throws {
        let expected = try #require(Fixtures.json("expected/gguf.json")["quant_types"]?.object?[name]?.object)
        let file = try GGUFFile.open(Fixtures.path("gguf/quant-types.gguf"))
        let t = try #require(file.tensor(named: name))
        #expect(t.type.name == expected["type"]!.string!)
        let values = expected["values"]!.array!.map { Float($0.number!) }
        var got = [Float](repeating: .nan, count: t.elementCount)
        got.withUnsafeMutableBufferPointer { GGMLDequantize.dequantize(file.data(for: t), type: t.type, count: t.elementCount, into: $0.baseAddress!) }
        #expect(got.count == values.count)
        let differing = zip(got, values).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(differing.isEmpty, "\(name): \(differing.count) values differ, first at \(differing.first?.offset ?? -1): \(differing.first.map { "\($0.element)" } ?? "")")
    }
}

@Suite(.serialized) struct GGUFWriterTests {
    /// convert writes what llama.cpp's converter (here, the gguf package the fixtures were
    /// written with) writes: the same tensors, types and bytes, and every key it wrote.
    @Test(arguments: [("tiny-llama", WeightScheme.f32, "tiny-llama-f32.gguf"), ("tiny-llama", .q8, "tiny-llama-q8_0.gguf"),
                      ("tiny-qwen2", .f32, "tiny-qwen2-f32.gguf"), ("tiny-qwen2", .q8, "tiny-qwen2-q8_0.gguf"),
                      ("tiny-genesis", .q8, "tiny-genesis-q8_0.gguf")])
    func writesWhatTheReferenceWrites(_ model: String, _ scheme: WeightScheme, _ reference: String) throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = scheme
        options.format = .gguf
        _ = try Converter.convert(input: Fixtures.model(model), output: dir.file("m.gguf"), options: options)
        let ours = try GGUFFile.open(dir.file("m.gguf")), theirs = try GGUFFile.open(GGUFTests.path(reference))
        #expect(ours.tensors.map(\.name).sorted() == theirs.tensors.map(\.name).sorted())
        for t in theirs.tensors {
            let o = try #require(ours.tensor(named: t.name))
            #expect(o.type == t.type && o.dimensions == t.dimensions, "\(reference) \(t.name)")
            #expect(ours.data(for: o).elementsEqual(theirs.data(for: t)), "\(reference) \(t.name): the bytes differ")
        }
        for (key, value) in theirs.metadata {
            #expect(ours.value(key) == value, "\(reference) \(key): ours \(ours.value(key)?.summary ?? "missing"), theirs \(value.summary)")
        }
    }

    @Test func aDryRunWritesNothingAndQ8RowIsRefused() throws {
        let dir = TemporaryDirectory()
        var gguf = ConversionOptions()
        gguf.format = .gguf
        let report = try Converter.convert(input: Fixtures.model("tiny-qwen2"), output: dir.file("m.gguf"), options: gguf, dryRun: true)
        #expect(report.dryRun && !fileExists(dir.file("m.gguf")))
        var rowwise = gguf
        rowwise.scheme = .q8Row
        #expect(throws: GGUFConversionError.self) {
            try Converter.convert(input: Fixtures.model("tiny-qwen2"), output: dir.file("m.gguf"), options: rowwise)
        }
        let r = CLI.run(["convert", Fixtures.model("tiny-genesis"), dir.file("g.gguf")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(ModelSource.isGGUF(dir.file("g.gguf")))
    }

    @Test func convertingAConvertedFileSaysSoAndWritesNothing() throws {
        let dir = TemporaryDirectory()
        let gguf = Fixtures.path("gguf/tiny-qwen2-q8_0.gguf")
        // GGUF to GGUF is llama-quantize: Q8_0 matrices asked to stay Q8_0 are copied; made
        // Q4_0, they would be rounded twice, which takes --allow-requantize.
        #expect(CLI.run(["convert", gguf, dir.file("m.gguf")]).status == 0)
        let copy = try GGUFFile.open(dir.file("m.gguf")), source = try GGUFFile.open(gguf)
        #expect(copy.tensors.map(\.type) == source.tensors.map(\.type))
        #expect(zip(copy.tensors, source.tensors).allSatisfy { copy.data(for: $0).elementsEqual(source.data(for: $1)) })
        let again = CLI.run(["convert", gguf, dir.file("q4.gguf"), "--weights", "q4_0"])
        #expect(again.status == 1 && !fileExists(dir.file("q4.gguf")), "\(again.stderr)")
        #expect(again.stderr.contains("is already Q8_0") && again.stderr.contains("--allow-requantize"), "\(again.stderr)")
        #expect(CLI.run(["convert", gguf, dir.file("q4.gguf"), "--weights", "q4_0", "--allow-requantize"]).status == 0)
        #expect(try ModelLoader.load(dir.file("q4.gguf")).weightFormat.contains("Q4_0"))
        #expect(CLI.run(["convert", gguf, dir.file("m.tlm")]).status == 0)
        let tlm = CLI.run(["convert", dir.file("m.tlm"), dir.file("n.tlm")])
        #expect(tlm.status == 1 && !fileExists(dir.file("n.tlm")) && tlm.stderr.contains("this is a TensorLedger .tlm file"), "\(tlm.stderr)")
    }
}

/// `convert FILE.gguf OUT.tlm`: the .tlm file runs exactly as the GGUF does (the same
/// weights as loading makes them), with its tokenizer and chat template.
@Suite struct GGUFToTLMTests {
    @Test(arguments: ["tiny-llama-q8_0.gguf", "tiny-llama-f32.gguf", "tiny-qwen2-q4_0.gguf", "tiny-qwen2-q8_0.gguf", "tiny-genesis-q8_0.gguf"])
    func theTLMRunsAsTheGGUFDoes(_ name: String) throws {
        let dir = TemporaryDirectory()
        let gguf = GGUFTests.path(name)
        let report = try Converter.convert(input: gguf, output: dir.file("m.tlm"), options: ConversionOptions())
        #expect(report.items.count >= 20)
        try TLMFile(path: dir.file("m.tlm")).verify()
        let a = try ModelLoader.load(gguf), b = try ModelLoader.load(dir.file("m.tlm"))
        // Q4_0 stays in its blocks; Q8_0 becomes q8, the same numbers in .tlm's own layout.
        #expect(b.weightFormat == (name.hasSuffix("f32.gguf") ? "f32" : name.contains("q4_0") ? a.weightFormat : "q8") && a.config.layers == b.config.layers)
        let ids = a.tokenizer.encode("And God said, Let there be light")
        #expect(b.tokenizer.encode("And God said, Let there be light") == ids)
        // The runner reads Q8_0 as stored, the .tlm holds q8: the same numbers summed in
        // another order. Q4_0 is the same blocks in both.
        let tolerance: Float = name.hasSuffix("f32.gguf") || name.contains("q4_0") ? 0 : 1e-4
        let x = try Generator(model: a).lastLogits(ids), y = try Generator(model: b).lastLogits(ids)
        #expect(zip(x, y).allSatisfy { abs($0 - $1) <= tolerance }, "\(name): \(zip(x, y).map { abs($0 - $1) }.max() ?? 0)")
        #expect(try TokenizerConfig.load(forModel: dir.file("m.tlm")) == (try TokenizerConfig.load(forModel: gguf)))
        // The ledger reads the .tlm as the model it is.
        let (ledger, _) = try ModelSource.ledger(dir.file("m.tlm"))
        #expect(ledger.row(.query).parameters > 0 && ledger.row(.unembedding).parameters > 0)
    }

    @Test func aGGUFIsRequantizedOnlyWhenAskedAndADryRunWritesNothing() throws {
        let dir = TemporaryDirectory()
        var gguf = ConversionOptions()
        gguf.format = .gguf
        gguf.weights = .mix(.q4_0)
        #expect(throws: ConversionError.self) {
            _ = try Converter.convert(input: GGUFTests.path("tiny-llama-q8_0.gguf"), output: dir.file("m.gguf"), options: gguf)
        }
        gguf.allowRequantize = true
        let q4 = try Converter.convert(input: GGUFTests.path("tiny-llama-q8_0.gguf"), output: dir.file("m.gguf"), options: gguf, dryRun: true)
        #expect(q4.dryRun && !fileExists(dir.file("m.gguf")) && q4.items.contains { $0.scheme == .blocks(.q4_0) })
        let r = try Converter.convert(input: GGUFTests.path("tiny-llama-q8_0.gguf"), output: dir.file("m.tlm"), options: ConversionOptions(), dryRun: true)
        #expect(r.dryRun && !fileExists(dir.file("m.tlm")))
        let cli = CLI.run(["convert", GGUFTests.path("tiny-qwen2-q4_0.gguf"), dir.file("q.tlm"), "--weights", "f16"])
        #expect(cli.status == 0 && cli.stderr.contains("the weight scheme and keep patterns asked for do not apply"), "\(cli.stderr)")
    }
}
