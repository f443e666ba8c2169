// Inputs that used to run with exit status 0 and give garbage (docs/ROBUSTNESS.md, round
// three): each is now an error naming what is wrong.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct RefusedGarbageTests {
    static func f16Bits(_ v: Float) -> [UInt8] { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian, Array.init) }

    /// A NaN or infinite scale in one block of a quantized GGUF tensor: refused at load,
    /// by convert and by diff, naming the tensor and the block.
    @Test(arguments: [("tiny-qwen2-q8_0.gguf", Float.nan), ("tiny-qwen2-q4_0.gguf", Float.infinity), ("tiny-llama-q8_0.gguf", -Float.infinity)])
    func nonFiniteScalesInGGUFBlocks(_ file: String, _ scale: Float) throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/" + file))
        let i = try #require(gguf.tensors.firstIndex { $0.plan.name == "blk.1.ffn_down.weight" })
        let blockBytes = gguf.tensors[i].plan.type.blockLayout.bytes
        gguf.tensors[i].data.replaceSubrange((3 * blockBytes)..<(3 * blockBytes + 2), with: Self.f16Bits(scale))
        gguf.write(to: dir.file("m.gguf"))
        let model = dir.file("m.gguf")
        for args in [["run", model, "-p", "And", "-n", "1"], ["convert", model, dir.file("o.tlm")], ["diff", model, Fixtures.path("gguf/" + file)]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: "\"blk.1.ffn_down.weight\": block 3 (values 96…) has a"), "\(args[0]): \(r.status) \(r.stderr)")
        }
        #expect(!fileExists(dir.file("o.tlm")))
    }

    /// A large tensor's scales are checked by several threads at once (as many as the
    /// machine has, or as `--threads` allows): the block named is still the first bad one,
    /// wherever the threads' ranges begin.
    @Test(arguments: [nil, 1, 3, 8])
    func theFirstNonFiniteBlockOfALargeTensor(threads: Int?) {
        let blockBytes = GGMLType.q4_K.blockLayout.bytes, blocks = 100_000  // 14.4 MB: split over the threads
        var bytes = [UInt8](repeating: 0, count: blocks * blockBytes)
        func first() -> Int? { bytes.withUnsafeBytes { ScaleCheck.firstNonFiniteBlock($0, type: .q4_K, threads: threads) } }
        #expect(first() == nil)
        // Each bad scale (d at 0, dmin at 2) earlier than the last.
        for (block, at) in [(blocks - 1, 2), (70_000, 0), (37_500, 0), (12_345, 2), (0, 2)] {
            bytes.replaceSubrange((block * blockBytes + at)..<(block * blockBytes + at + 2), with: Self.f16Bits(.infinity))
            #expect(first() == block)
        }
    }

    /// A .tlm q8 tensor whose scale is NaN, its checksum and the header's made right again:
    /// verify and run refuse it.
    @Test func aNonFiniteScaleInATLMFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.tlm")
        _ = try Converter.convert(input: Fixtures.model("tiny-genesis"), output: path, options: ConversionOptions())
        let file = try TLMFile(path: path)
        let entry = try #require(file.tensor(named: "transformer.h.2.mlp.c_fc.weight"))
        var bytes = try readWholeFile(path)
        let scales = file.dataOffset + entry.offset + TLMFormat.align(entry.shape[0] * entry.shape[1])
        bytes.replaceSubrange((scales + 2 * 7)..<(scales + 2 * 7 + 2), with: Self.f16Bits(.nan))
        // The tensor's checksum, then the header's, as a forger would.
        let sum = bytes.withUnsafeBytes { TLMFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[(file.dataOffset + entry.offset)..<(file.dataOffset + entry.offset + entry.storedBytes)])) }
        var header = String(decoding: bytes[file.headerOffset...], as: UTF8.self)
        header = header.replacing(hex16(entry.checksum), with: hex16(sum))
        bytes.replaceSubrange(file.headerOffset..., with: Array(header.utf8))
        var pre = bytes.withUnsafeBytes { TLMPreamble(decoding: $0) }
        pre.headerChecksum = bytes.withUnsafeBytes { TLMFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[file.headerOffset...])) }
        bytes.replaceSubrange(0..<TLMFormat.preambleSize, with: pre.encoded())
        writeFile(path, bytes)
        for args in [["verify", path], ["run", path, "-p", "And", "-n", "1"]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: "\"transformer.h.2.mlp.c_fc.weight\": scale 7 is not finite"), "\(args[0]): \(r.status) \(r.stderr)")
        }
    }

    /// Settings that config.json could not carry, given by GGUF keys or a .tlm header,
    /// are refused by the same check.
    @Test(arguments: [("llama.attention.layer_norm_rms_epsilon", GGUFValue.f32(1e30), "norm epsilon"),
                      ("llama.attention.layer_norm_rms_epsilon", .f32(-1e-5), "norm epsilon"),
                      ("llama.rope.freq_base", .f32(0.5), "rope base"),
                      ("llama.rope.scaling.factor", .f32(-2), "rope scaling factor")])
    func ggufSettingsGetTheConfigChecks(_ key: String, _ value: GGUFValue, _ words: String) throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        gguf[key] = value
        if key.contains("scaling") { gguf["llama.rope.scaling.type"] = .string("linear") }
        gguf.write(to: dir.file("m.gguf"))
        for args in [["run", dir.file("m.gguf"), "-p", "And", "-n", "1"], ["chat", dir.file("m.gguf"), "--message", "hi", "-n", "1"],
                     ["plan", dir.file("m.gguf")], ["convert", dir.file("m.gguf"), dir.file("o.tlm")]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: words), "\(args[0]): \(r.status) \(r.stderr)")
        }
    }

    /// The same for a .tlm header's configuration: an epsilon of 1e30 there is refused.
    @Test func tlmSettingsGetTheConfigChecks() throws {
        let config = try #require(try ModelConfig.load(Fixtures.model("tiny-llama") + "/config.json").json.object)
        var bad = config
        bad["layer_norm_epsilon"] = .double(1e30)
        #expect(throws: ConfigError.self) { _ = try ModelConfig.parseStored(.object(bad)) }
        _ = try ModelConfig.parseStored(.object(config))
    }

    /// A GGUF that says 4 key/value heads while attn_k holds 2, or a configuration of more
    /// layers than the weights: plan refuses what the runner refuses.
    @Test func planRefusesWhatTheRunnerRefuses() throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        gguf["llama.attention.head_count_kv"] = .u32(4)
        gguf.write(to: dir.file("m.gguf"))
        let config = try editedText(Fixtures.model("tiny-llama") + "/config.json", [("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 40")])
        let model = try editedModel("tiny-llama", in: dir, files: ["config.json": config])
        for (path, words) in [(dir.file("m.gguf"), "has shape [32, 64], the configuration needs [64, 64]"), (model, "has no tensor \"model.layers.2.")] {
            for command in ["plan", "run"] {
                let r = CLI.run(command == "run" ? [command, path, "-p", "And"] : [command, path])
                #expect(r.isOneErrorLine(containing: words), "\(command) \(path): \(r.status) \(r.stderr)")
            }
        }
    }

    /// tie_word_embeddings true beside a checkpoint's own lm_head.weight: the head is the
    /// embedding, as transformers makes it, and every command says the file's head is unused.
    @Test func aTiedConfigurationBesideAnUntiedHead() throws {
        let dir = TemporaryDirectory(), tiedDir = TemporaryDirectory()
        let config = try editedText(Fixtures.model("tiny-llama") + "/config.json", [("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true")])
        let both = try editedModel("tiny-llama", in: dir, files: ["config.json": config])
        let tied = try editedModel("tiny-llama", in: tiedDir, files: ["config.json": config]) { $0.removeAll { $0.spec.name == "lm_head.weight" } }
        let ids = [1, 300, 301, 302]
        #expect(try Generator(model: ModelLoader.load(both)).lastLogits(ids) == Generator(model: ModelLoader.load(tied)).lastLogits(ids))
        #expect(try ModelLoader.load(both).notes.contains { $0.contains("lm_head.weight is not used") })
        let r = CLI.run(["convert", both, dir.file("o.tlm")])
        #expect(r.status == 0 && r.stderr.contains("lm_head.weight is not used"), "\(r.stderr)")
        #expect(try TLMFile(path: dir.file("o.tlm")).tensor(named: "lm_head.weight") == nil)
    }

    /// diff of a 3-D tensor (experts stacked) compares every value; two models with nothing
    /// in common are refused instead of reported as identical.
    @Test func diffComparesEveryValueOrRefuses() throws {
        let dir = TemporaryDirectory()
        var a = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        let values = (0..<12_000).map { Float($0) / 1000 }
        a.tensors.append((GGUFTensorPlan(name: "blk.0.ffn_up_exps.weight", dimensions: [10, 20, 60], type: .f32), values.withUnsafeBytes(Array.init)))
        a.write(to: dir.file("a.gguf"))
        var changed = values
        changed[11_999] += 1
        a.setTensor("blk.0.ffn_up_exps.weight", dimensions: [10, 20, 60], data: changed.withUnsafeBytes(Array.init))
        a.write(to: dir.file("b.gguf"))
        let diff = try ModelDiff.compare(dir.file("a.gguf"), dir.file("b.gguf"))
        let experts = try #require(diff.tensors.first { $0.name == "blk.0.ffn_up_exps.weight" })
        #expect(experts.sums.count == 12_000 && experts.sums.maxAbsChange == 1, "\(experts.sums)")
        let r = CLI.run(["diff", Fixtures.model("tiny-genesis"), Fixtures.model("tiny-llama")])
        #expect(r.isOneErrorLine(containing: "have no tensor of the same name and shape to compare", status: 2), "\(r.status) \(r.stderr)")
    }

    /// A Hugging Face cache whose tokenizer_config.json is a link to a blob that never
    /// arrived: an error, not a model without a chat template.
    @Test func aBrokenLinkIsAnErrorNotAnAbsence() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-qwen2", in: dir)
        _ = unlink(dir.file("tokenizer_config.json"))
        #expect(symlink("../../blobs/never-downloaded", dir.file("tokenizer_config.json")) == 0)
        for args in [["chat", model, "--message", "hi", "-n", "1"], ["convert", model, dir.file("o.tlm")]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: "tokenizer_config.json: a link to a file that is not there", status: 3), "\(args[0]): \(r.status) \(r.stderr)")
        }
    }

    /// A tokenizer of more tokens than the embedding has rows: convert refuses before it
    /// writes a file that nothing could run.
    @Test(arguments: ["o.tlm", "o.gguf"])
    func aTokenizerLargerThanTheEmbeddingIsNotWritten(_ output: String) throws {
        let dir = TemporaryDirectory()
        let extra = (512..<600).map { "{\"id\": \($0), \"content\": \"<x\($0)>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}," }.joined()
        let json = try editedText(Fixtures.model("tiny-genesis") + "/tokenizer.json", [("\"added_tokens\": [", "\"added_tokens\": [" + extra)])
        let model = try editedModel("tiny-genesis", in: dir, files: ["tokenizer.json": json])
        let r = CLI.run(["convert", model, dir.file(output)])
        #expect(r.isOneErrorLine(containing: "the tokenizer has 600 tokens but the model only 512 embedding rows"), "\(r.status) \(r.stderr)")
        #expect(!fileExists(dir.file(output)))
    }

    /// A parameter the family's forward pass would not read (Qwen3's q_norm in a LLaMA-shaped
    /// checkpoint ran, exit 0, with logits off by ~7): refused by name, by every command.
    @Test func aTensorTheRunnerWouldSkipIsAnError() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-llama", in: dir) { tensors in
            tensors.append((TensorSpec(name: "model.layers.0.self_attn.q_norm.weight", dtype: .float32, shape: [16]), [UInt8](repeating: 0, count: 64)))
        }
        for args in [["run", model, "-p", "And", "-n", "1"], ["plan", model], ["convert", model, dir.file("o.tlm")]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: "tensor \"model.layers.0.self_attn.q_norm.weight\" is not used by the Llama runner"), "\(args[0]): \(r.status) \(r.stderr)")
        }
        // Buffers are not parameters: a rotary table beside the weights is fine.
        let buffers = TemporaryDirectory()
        let withBuffer = try editedModel("tiny-llama", in: buffers) { tensors in
            tensors.append((TensorSpec(name: "model.layers.0.self_attn.rotary_emb.inv_freq", dtype: .float32, shape: [8]), [UInt8](repeating: 0, count: 32)))
        }
        #expect(CLI.run(["run", withBuffer, "-p", "And", "-n", "1"]).status == 0)
    }
}

private func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
