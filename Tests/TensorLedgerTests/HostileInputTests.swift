// Inputs that used to hang or slow to a crawl (docs/ROBUSTNESS.md, round two): each is
// refused or handled, and never waits forever.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct HostileInputTests {
    /// A FIFO named as a model, config, tokenizer or text is refused at once: opening one
    /// for reading would wait for a writer that never comes. (`timeout` turns a hang into
    /// status 124, so this test cannot hang itself.)
    @Test func aFIFOIsRefusedNotWaitedOn() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.file("model.safetensors")
        try #require(mkfifo(fifo, 0o600) == 0)
        let model = Fixtures.model("tiny-genesis")
        let commands = [["inspect", fifo], ["ledger", "--config", fifo], ["tokenize", fifo, "--text", "hi"], ["verify", fifo],
                        ["perplexity", model, "--file", fifo], ["run", model, "--prompt-file", fifo, "-n", "1"], ["convert", fifo, dir.file("o.tlm")]]
        for command in commands {
            let r = try #require(ChildProcess.run("/usr/bin/timeout", ["20", CLI.binary] + command))
            #expect(r.status == 1 || r.status == 3, "\(command): status \(r.status), \(r.stderr)")
            #expect(r.stderr.contains("not a regular file") || r.stderr.contains("not a safetensors file"), "\(command): \(r.stderr)")
        }
    }

    /// Added tokens are matched leftmost-longest, as `tokenizers` does, by one trie: the
    /// same segments as trying every token at every position.
    @Test func addedTokensMatchLeftmostLongest() throws {
        let base = try BPETokenizer.load(Fixtures.model("tiny-genesis") + "/tokenizer.json")
        let contents = ["<a>", "<a><b>", "<b>", "ab", "abc", "<|x|>", "é", "\n\n"]
        let added = contents.enumerated().map { AddedToken(id: 400 + $0.offset, content: $0.element, special: true) }
        let tokenizer = try BPETokenizer(tokens: base.tokens, merges: base.merges, addedTokens: added, pipeline: base.pipeline, source: "test")
        func naive(_ text: String) -> [Int] {
            let bytes = Array(text.utf8)
            var out: [Int] = [], i = 0
            while i < bytes.count {
                let hit = added.filter { bytes[i...].starts(with: Array($0.content.utf8)) }.max { $0.content.utf8.count < $1.content.utf8.count }
                if let hit { out.append(hit.id); i += hit.content.utf8.count } else { i += 1 }
            }
            return out
        }
        for text in ["<a><b>ab<b>abcd", "x<a>y<a><b>", "<|x|<|x|>é\n\n\nabc", "", "no added tokens here", "<a<a>><b"] {
            let found = tokenizer.splitOnAddedTokens(text).compactMap { if case .added(let id) = $0 { return id } else { return nil } }
            #expect(found == naive(text), "\(text.debugDescription)")
        }
        // Many added tokens and a long text: one pass, each position bounded by the longest token.
        let many = (0..<256).map { AddedToken(id: 100 + $0, content: "<tok\($0)>", special: true) }
        let big = try BPETokenizer(tokens: base.tokens, merges: base.merges, addedTokens: many, pipeline: base.pipeline, source: "test")
        let text = String(repeating: "<tok7> and <tok25", count: 2000)
        #expect(big.splitOnAddedTokens(text).count == 4000)
    }

    /// Text that parses into far more memory than it takes (millions of tiny numbers) is
    /// refused while parsing, before the values outgrow the limit.
    @Test func jsonThatWouldBlowUpInMemoryIsRefused() throws {
        var text = [UInt8]("[".utf8)
        text.reserveCapacity(24_000_002)
        for _ in 0..<12_000_000 { text += [UInt8(ascii: "1"), UInt8(ascii: ",")] }
        text[text.count - 1] = UInt8(ascii: "]")
        #expect { try JSON.parse(text) } throws: { error in
            guard let e = error as? JSONError, case .tooLarge(let limit) = e.problem else { return false }
            return limit == JSON.memoryLimit(forTextOf: text.count) && e.offset < text.count
        }
        // A real tokenizer, many times the size of its text in values, is well inside the limit.
        _ = try JSON.parse(try readWholeFile(Fixtures.model("tiny-qwen2") + "/tokenizer.json"))
    }

    /// A GGUF array whose items are each one byte in the file but a value in memory is
    /// refused from its count, before anything is allocated for it.
    @Test func ggufMetadataThatWouldBlowUpInMemoryIsRefused() throws {
        let dir = TemporaryDirectory()
        let count = 30_000_000
        var bytes = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        u32(3); u64(0); u64(1)
        u64(11); bytes += Array("general.big".utf8)
        u32(9); u32(0); u64(UInt64(count))
        bytes += [UInt8](repeating: 1, count: count)
        writeFile(dir.file("big.gguf"), bytes)
        #expect { try GGUFFile.open(dir.file("big.gguf")) } throws: { error in
            "\(error)".contains("the metadata would take more than 512 MiB in memory")
        }
    }

    /// A bad value on the way to GGUF is named where the checkpoint has it, through GPT-2's
    /// transpose and llama's Q/K row permutation, quantized or not.
    @Test(arguments: [("tiny-genesis", "transformer.h.0.mlp.c_fc.weight"), ("tiny-llama", "model.layers.0.self_attn.q_proj.weight"),
                      ("tiny-llama", "model.layers.1.self_attn.k_proj.weight")])
    func aBadValueOnTheWayToGGUFIsNamedWhereTheCheckpointHasIt(_ model: String, _ tensor: String) throws {
        let dir = TemporaryDirectory()
        let cols = try #require(try SafetensorsFile(path: Fixtures.model(model) + "/model.safetensors").tensor(named: tensor)?.shape.last)
        let index = 3 * cols + 5  // row 3 moves under the permutation; column 5 under the transpose
        let damaged = try Self.damaged(tensor, index: index, value: .nan, in: dir, model: model)
        for scheme in [WeightScheme.q8, .f16, .f32] {
            var options = ConversionOptions()
            options.format = .gguf
            options.scheme = scheme
            #expect(throws: QuantizationError.nonFinite(tensor: tensor, index: index), "\(scheme)") {
                _ = try Converter.convert(input: damaged, output: dir.file("m.gguf"), options: options)
            }
        }
    }

    /// A copy of a fixture model (the demo's by default) with `value` written over element
    /// `index` of `tensor`.
    static func damaged(_ tensor: String, index: Int, value: Float, in dir: TemporaryDirectory, model: String = "tiny-genesis") throws -> String {
        let source = Fixtures.model(model)
        for name in ["config.json", "tokenizer.json"] { copyFile(source + "/" + name, dir.file(name)) }
        var bytes = try readWholeFile(source + "/model.safetensors")
        let file = try SafetensorsFile(path: source + "/model.safetensors")
        let info = try #require(file.tensors.first { $0.name == tensor })
        let at = file.header.dataStart + info.dataOffsets.lowerBound + 4 * index
        withUnsafeBytes(of: value.bitPattern.littleEndian) { for k in 0..<4 { bytes[at + k] = $0[k] } }
        writeFile(dir.file("model.safetensors"), bytes)
        return dir.path
    }

    /// NaN in a norm: refused at load and at conversion, naming the tensor, not garbage with exit 0.
    @Test func nonFiniteWeightsAreRefused() throws {
        let dir = TemporaryDirectory()
        let model = try Self.damaged("transformer.h.1.ln_2.weight", index: 5, value: .nan, in: dir)
        #expect(throws: ModelLoadError.nonFinite(source: model + "/model.safetensors", name: "transformer.h.1.ln_2.weight", index: 5)) {
            _ = try ModelLoader.load(model)
        }
        #expect(throws: QuantizationError.nonFinite(tensor: "transformer.h.1.ln_2.weight", index: 5)) {
            _ = try Converter.convert(input: model, output: dir.file("m.tlm"), options: ConversionOptions())
        }
        #expect(!fileExists(dir.file("m.tlm")))
        // A value f16 cannot hold is refused when narrowing to it.
        let wide = TemporaryDirectory()
        let big = try Self.damaged("transformer.h.0.mlp.c_fc.weight", index: 0, value: 1e6, in: wide)
        var f16 = ConversionOptions()
        f16.scheme = .f16
        #expect(throws: QuantizationError.self) { _ = try Converter.convert(input: big, output: wide.file("m.tlm"), options: f16) }
        let r = CLI.run(["run", model, "--prompt", "And God", "-n", "2"])
        #expect(r.status == 1 && r.stderr.contains("holds a value that is not finite"), "\(r.stderr)")
    }

    /// Finite weights whose products overflow: the run stops with an error naming the first
    /// stage whose output went bad, and perplexity does not print nan.
    @Test func nonFiniteLogitsNameWhereTheyBegan() throws {
        let dir = TemporaryDirectory()
        // Every weight of one MLP up-projection row at f32's largest: the product overflows.
        let source = Fixtures.model("tiny-genesis")
        for name in ["config.json", "tokenizer.json"] { copyFile(source + "/" + name, dir.file(name)) }
        var bytes = try readWholeFile(source + "/model.safetensors")
        let file = try SafetensorsFile(path: source + "/model.safetensors")
        let info = try #require(file.tensors.first { $0.name == "transformer.h.2.mlp.c_fc.weight" })
        let start = file.header.dataStart + info.dataOffsets.lowerBound
        for i in 0..<info.elementCount {
            withUnsafeBytes(of: Float.greatestFiniteMagnitude.bitPattern.littleEndian) { for k in 0..<4 { bytes[start + 4 * i + k] = $0[k] } }
        }
        writeFile(dir.file("model.safetensors"), bytes)
        let model = try ModelLoader.load(dir.path)
        #expect(throws: GenerationError.nonFinite(stage: "\"Block 2 MLP\"")) {
            _ = try Generator(model: model).generate(prompt: "And God said", maxTokens: 3, sampling: SamplingOptions())
        }
        #expect(throws: GenerationError.nonFinite(stage: "\"Block 2 MLP\"")) {
            _ = try Perplexity.evaluate(model, ids: [33, 259, 370, 316, 200])
        }
        let r = CLI.run(["perplexity", dir.path, "--file", Fixtures.path("text/genesis.txt"), "--context", "16"])
        #expect(r.status == 1 && r.stderr.contains("not finite") && !r.stdout.contains("nan"), "\(r.stderr)")
    }
}
