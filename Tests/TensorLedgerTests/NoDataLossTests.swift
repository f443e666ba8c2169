// Inputs that a command used to overwrite (docs/ROBUSTNESS.md, round three): no output
// path, however it is given, replaces a file the command read or one that exists.

import Testing
@testable import TensorLedger

@Suite struct NoDataLossTests {
    /// `/save FILE` in chat, piped: never the model's files, never an existing file.
    @Test func chatSaveNeverReplacesAFile() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-genesis", in: dir)
        let weights = try readWholeFile(dir.file("model.safetensors"))
        writeFile(dir.file("notes.txt"), Array("keep me".utf8))
        for (target, words) in [(dir.file("model.safetensors"), "the output is the input file"), (dir.file("notes.txt"), "exists: /save writes only a new file")] {
            let r = CLI.run(["chat", model, "-n", "2", "--temperature", "0"], input: Array("And God\n/save \(target)\n".utf8))
            #expect(r.status == 2 && r.stderr.contains(words), "\(target): \(r.status) \(r.stderr)")
        }
        #expect(try readWholeFile(dir.file("model.safetensors")) == weights)
        #expect(try readWholeFile(dir.file("notes.txt")) == Array("keep me".utf8))
        let r = CLI.run(["chat", model, "-n", "2", "--temperature", "0"], input: Array("And God\n/save \(dir.file("t.json"))\n".utf8))
        #expect(r.status == 0 && r.stderr.contains("saved the conversation to"), "\(r.stderr)")
        #expect(try JSON.parse(readWholeFile(dir.file("t.json"))).object?["turns"] != nil)
    }

    /// convert's output may not be any file it reads: the chat template and tokenizer
    /// configuration included, for GGUF as for .tlm.
    @Test(arguments: ["tokenizer_config.json", "chat_template.jinja", "config.json"])
    func convertNeverWritesOverAnInput(_ name: String) throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-qwen2", in: dir, files: ["chat_template.jinja": "{{ messages }}"])
        let before = try readWholeFile(dir.file(name))
        for format in ["gguf", "tlm"] {
            let r = CLI.run(["convert", model, dir.file(name), "--format", format, "--force"])
            #expect(r.isOneErrorLine(containing: "the output is the input file", status: 2), "\(format): \(r.status) \(r.stderr)")
        }
        #expect(try readWholeFile(dir.file(name)) == before)
    }

    /// synth never rewrites the config or tokenizer it is made from, and writes nothing
    /// when an input is missing.
    @Test func synthNeverWritesOverItsInputsNorHalfway() throws {
        let dir = TemporaryDirectory()
        _ = try editedModel("tiny-genesis", in: dir)
        let config = try readWholeFile(dir.file("config.json")), tokenizer = try readWholeFile(dir.file("tokenizer.json"))
        let r = CLI.run(["synth", dir.path, "--config", dir.file("config.json"), "--tokenizer", dir.file("tokenizer.json"), "--force"])
        #expect(r.isOneErrorLine(containing: "the output is the input file", status: 2), "\(r.status) \(r.stderr)")
        #expect(try readWholeFile(dir.file("config.json")) == config && readWholeFile(dir.file("tokenizer.json")) == tokenizer)
        let empty = TemporaryDirectory()
        let missing = CLI.run(["synth", empty.file("out"), "--preset", "gpt2", "--sparse", "--tokenizer", empty.file("missing.json")])
        #expect(missing.status == 3 && !fileExists(empty.file("out/model.safetensors")) && !fileExists(empty.file("out/config.json")), "\(missing.stderr)")
        let ok = CLI.run(["synth", empty.file("out"), "--preset", "gpt2", "--sparse"])
        #expect(ok.status == 0 && ok.stdout.contains("model.safetensors") && ok.stdout.contains("config.json"), "\(ok.stdout)")
    }
}
