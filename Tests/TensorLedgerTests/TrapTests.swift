// Inputs that used to trap (exit 132) now get one error line (docs/ROBUSTNESS.md, round
// three): each file is well formed but says something the arithmetic cannot take.

import Testing
@testable import TensorLedger

@Suite struct TrapTests {
    /// llama.cpp's Q/K row order divides a matrix's rows by its heads: a GGUF with more
    /// heads than rows, or a Q matrix of no rows, is refused by every command that reads it.
    @Test(arguments: ["more heads than rows", "no rows"])
    func qkRowsThatDoNotSplitIntoHeads(_ breakage: String) throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        if breakage == "no rows" {
            gguf.setTensor("blk.0.attn_q.weight", dimensions: [64, 0], data: [])
        } else {
            gguf["llama.attention.head_count"] = .u32(128)
            gguf["llama.attention.head_count_kv"] = .u32(128)
            gguf["llama.attention.key_length"] = .u32(16)
        }
        gguf.write(to: dir.file("m.gguf"))
        let model = dir.file("m.gguf")
        for args in [["diff", model, Fixtures.path("gguf/tiny-llama-f32.gguf")], ["convert", model, dir.file("o.tlm")],
                     ["run", model, "-p", "And", "-n", "1"], ["next", model, "-p", "And"]] {
            let r = CLI.run(args)
            // diff lists a matrix of no rows among the shapes that differ.
            let listed = args[0] == "diff" && breakage == "no rows" && r.status == 0 && r.stdout.contains("Shapes differ: model.layers.0.self_attn.q_proj.weight")
            #expect(listed || r.isOneErrorLine(containing: model), "\(args[0]): \(r.status) \(r.stderr)")
        }
        #expect(!fileExists(dir.file("o.tlm")))
        #expect(throws: GGUFError.self) { _ = try GGUFRowPermutation(rows: 2, heads: 4, tensor: "q", file: "f") }
        #expect(throws: GGUFError.self) { _ = try GGUFRowPermutation(rows: 12, heads: 4, tensor: "q", file: "f") }
    }

    /// The permutation and its inverse agree, and match llama.cpp's description: within a
    /// head of 8 rows, rows 0 1 2 3 | 4 5 6 7 are stored as 0 4 1 5 2 6 3 7.
    @Test func theRowPermutationIsLlamaCpps() throws {
        let p = try GGUFRowPermutation(rows: 16, heads: 2, tensor: "q", file: "f")
        #expect((0..<8).map(p.storedRow) == [0, 2, 4, 6, 1, 3, 5, 7])
        #expect((0..<16).map { p.sourceRow(p.storedRow($0)) } == Array(0..<16))
        var rows = (0..<16).map(Float.init)
        rows.withUnsafeMutableBufferPointer { p.apply(to: $0.baseAddress!, cols: 1) }
        #expect(rows == [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15])
    }

    /// A layer number as large as Int.max in a tensor name, in a checkpoint or a GGUF.
    @Test func aLayerIndexNearIntMax() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-llama", in: dir) { tensors in
            tensors.append((TensorSpec(name: "model.layers.9223372036854775807.input_layernorm.weight", dtype: .float32, shape: [64]),
                            [UInt8](repeating: 0, count: 256)))
        }
        for args in [["run", model, "-p", "And", "-n", "1"], ["convert", model, dir.file("o.gguf")], ["plan", model]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: "layer 9223372036854775807"), "\(args[0]): \(r.status) \(r.stderr)")
        }
        let ggufDir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        gguf.tensors.append((GGUFTensorPlan(name: "blk.9223372036854775807.attn_norm.weight", dimensions: [64], type: .f32),
                             [UInt8](repeating: 0, count: 256)))
        gguf.write(to: ggufDir.file("m.gguf"))
        for args in [["run", ggufDir.file("m.gguf"), "-p", "And", "-n", "1"], ["ledger", ggufDir.file("m.gguf"), "--layers"]] {
            let r = CLI.run(args)
            #expect(r.status == 1 ? r.isOneErrorLine(containing: "9223372036854775807") : r.status == 0, "\(args[0]): \(r.status) \(r.stderr)")
        }
    }

    /// Token ids in config.json that no vocabulary holds.
    @Test(arguments: [("\"bos_token_id\": 1", "\"bos_token_id\": -1", "bos_token_id -1"),
                      ("\"eos_token_id\": 2", "\"eos_token_id\": [5000000000]", "eos_token_id 5000000000"),
                      ("\"eos_token_id\": 2", "\"eos_token_id\": \"two\"", "\"eos_token_id\" must be an integer")])
    func tokenIDsThatAreNoTokens(_ old: String, _ new: String, _ words: String) throws {
        let dir = TemporaryDirectory()
        let config = try editedText(Fixtures.model("tiny-llama") + "/config.json", [(old, new)])
        let model = try editedModel("tiny-llama", in: dir, files: ["config.json": config])
        for args in [["convert", model, dir.file("o.gguf")], ["run", model, "-p", "And", "-n", "1"]] {
            let r = CLI.run(args)
            #expect(r.isOneErrorLine(containing: words), "\(args[0]): \(r.status) \(r.stderr)")
        }
        #expect(!fileExists(dir.file("o.gguf")))
    }

    /// A .tlm preamble whose header offset and length overflow when added, checksum right.
    @Test func aTLMPreambleWhoseOffsetsOverflow() throws {
        let dir = TemporaryDirectory()
        _ = try Converter.convert(input: Fixtures.model("tiny-genesis"), output: dir.file("m.tlm"), options: ConversionOptions())
        var bytes = try readWholeFile(dir.file("m.tlm"))
        var pre = bytes.withUnsafeBytes { TLMPreamble(decoding: $0) }
        pre.headerOffset = UInt64.max - 100
        pre.headerLength = 1000
        let encoded = pre.encoded()
        bytes.replaceSubrange(0..<encoded.count, with: encoded)
        writeFile(dir.file("m.tlm"), bytes)
        for command in ["verify", "inspect", "run"] {
            let r = CLI.run(command == "run" ? [command, dir.file("m.tlm"), "-p", "And"] : [command, dir.file("m.tlm")])
            #expect(r.isOneErrorLine(containing: "damaged preamble"), "\(command): \(r.status) \(r.stderr)")
        }
    }

    /// Sizes each within its limit whose products pass Int64.
    @Test func aConfigurationWhoseProductsOverflow() throws {
        let dir = TemporaryDirectory()
        writeFile(dir.file("config.json"), Array("""
            {"model_type": "llama", "vocab_size": 16000000, "hidden_size": 1000000, "num_hidden_layers": 65000,
             "num_attention_heads": 65000, "head_dim": 65000, "intermediate_size": 4000000, "max_position_embeddings": 16000000}
            """.utf8))
        for command in ["ledger", "plan"] {
            let r = CLI.run([command, "--config", dir.file("config.json")])
            #expect(r.isOneErrorLine(containing: "parameters, beyond what TensorLedger counts"), "\(command): \(r.status) \(r.stderr)")
        }
    }

    /// A reader that is gone before the output comes (`| true`) ends it quietly: status 0, not SIGPIPE's 141.
    @Test func aClosedPipeEndsTheOutputQuietly() throws {
        let model = Fixtures.model("tiny-genesis")
        for command in ["run '\(model)' -p 'And God' -n 100 --temperature 0", "inspect '\(model)'", "tokenize '\(model)' --text 'And God said'"] {
            let r = try #require(ChildProcess.run("/bin/bash", ["-c", "'\(CLI.binary)' \(command) 2>/dev/null | true; echo ${PIPESTATUS[0]}"]))
            #expect(r.stdout == "0\n", "\(command): \(r.stdout)")
        }
    }
}
