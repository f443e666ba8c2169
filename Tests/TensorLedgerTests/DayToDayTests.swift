// The habits llama.cpp and ollama users bring (issue 27): a random seed that is printed,
// threads from the cores the process may use, a prompt from a pipe, why generation
// stopped, and a command line that says what was mistyped.

import Testing
@testable import TensorLedger

@Suite struct DayToDayTests {
    static func json(_ r: CLIResult) throws -> JSONObject { try #require(try JSON.parse(Array(r.stdout.utf8)).object, "\(r.stderr)") }

    /// Without --seed each run draws one and prints it; --seed with it repeats the run.
    @Test func theSeedIsDrawnPrintedAndRepeatable() throws {
        let model = Fixtures.model("tiny-genesis")
        let args = ["run", model, "-p", "And God", "-n", "12", "--json"]
        let a = try Self.json(CLI.run(args)), b = try Self.json(CLI.run(args))
        let seed = try #require(a["seed"]?.int)
        #expect(seed != b["seed"]?.int, "two runs drew the same seed")
        let again = try Self.json(CLI.run(args + ["--seed", String(seed)]))
        #expect(again["generated_ids"] == a["generated_ids"] && again["seed"]?.int == seed)
        let text = CLI.run(["run", model, "-p", "And God", "-n", "3", "--seed", "5"])
        #expect(text.stderr.contains("; seed 5"), "\(text.stderr)")
    }

    /// Threads default to the cores the process may run on (its affinity).
    @Test func threadsFollowTheCoresTheProcessMayUse() throws {
        let model = Fixtures.model("tiny-genesis")
        let r = try Self.json(CLI.run(["run", model, "-p", "And", "-n", "1", "--json"]))
        #expect(r["threads"]?.int == min(availableCores(), 64))
        if fileExists("/usr/bin/taskset") {
            let one = try #require(ChildProcess.run("/usr/bin/taskset", ["-c", "0", CLI.binary, "run", model, "-p", "And", "-n", "1", "--json"]))
            #expect(try JSON.parse(Array(one.stdout.utf8)).object?["threads"]?.int == 1, "\(one.stderr)")
        }
        #expect(try Self.json(CLI.run(["run", model, "-p", "And", "-n", "1", "--json", "-t", "1"]))["threads"]?.int == 1)
    }

    /// A model whose every next token is its end-of-text: run says it stopped there, points
    /// a chat model's user at chat, and --ignore-eos generates past it.
    @Test func anImmediateEndOfTextIsExplained() throws {
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-genesis", in: dir) { tensors in
            // The final norm's output is the bias alone, and that bias is token 0's
            // embedding (<|endoftext|>) made long: token 0 is always the likeliest.
            let wte = tensors.firstIndex { $0.spec.name == "transformer.wte.weight" }!
            let width = tensors[wte].spec.shape[1]
            var row = tensors[wte].data[0..<(4 * width)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }.map { $0 * 50 }
            if row.allSatisfy({ $0 == 0 }) { row = [Float](repeating: 1, count: width) }
            tensors[wte].data.replaceSubrange(0..<(4 * width), with: row.withUnsafeBytes(Array.init))
            let weight = tensors.firstIndex { $0.spec.name == "transformer.ln_f.weight" }!
            tensors[weight].data = [UInt8](repeating: 0, count: 4 * width)
            let bias = tensors.firstIndex { $0.spec.name == "transformer.ln_f.bias" }!
            tensors[bias].data = row.withUnsafeBytes(Array.init)
        }
        let r = CLI.run(["run", model, "-p", "And God", "-n", "5"])
        #expect(r.status == 0 && r.stderr.contains("the model ended the text at once; generate past the end with --ignore-eos")
                && r.stderr.contains("stopped: end of text"), "\(r.stderr)")
        writeFile(dir.file("tokenizer_config.json"), Array(#"{"chat_template": "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"}"#.utf8))
        #expect(CLI.run(["run", model, "-p", "And God", "-n", "5"]).stderr.contains("it is a chat model"))
        let past = try Self.json(CLI.run(["run", model, "-p", "And God", "-n", "5", "--ignore-eos", "--json"]))
        #expect(past["generated_ids"]?.array?.count == 5 && past["stop_reason"]?.string == "length", "\(past)")
    }

    /// Mistyped command lines say what was meant; negative numbers are refused for their
    /// value, not taken for options; with --json the error is the error object.
    @Test func mistakesOnTheCommandLineAreNamed() throws {
        let model = Fixtures.model("tiny-genesis")
        let command = CLI.run(["runn", model])
        #expect(command.status == 64 && command.stderr.contains("no command named 'runn'; did you mean 'run'?"), "\(command.stderr)")
        let negative = CLI.run(["run", model, "-p", "And", "-n", "-1"])
        #expect(negative.status == 64 && negative.stderr.contains("-n must not be negative"), "\(negative.stderr)")
        let temperature = CLI.run(["run", model, "-p", "And", "--temperature", "-1"])
        #expect(temperature.status == 64 && temperature.stderr.contains("--temperature must be 0 (greedy) or positive"), "\(temperature.stderr)")
        let typo = CLI.run(["run", model, "--promt", "hi", "--json"])
        let error = try #require(try JSON.parse(Array(typo.stderr.utf8)).object, "\(typo.stderr)")
        #expect(typo.status == 64 && error["kind"]?.string == "command_line" && error["error"]?.string?.contains("'--prompt'") == true, "\(typo.stderr)")
        #expect(closestName(to: "inspct", among: ["inspect", "ledger"]) == "inspect" && closestName(to: "xyz", among: ["run"]) == nil)
    }

    @Test func bannedTokensAreNeverSampled() {
        var options = SamplingOptions()
        options.temperature = 0
        options.banned = [2]
        var sampler = Sampler(options)
        let logits: [Float] = [0, 1, 9, 3]
        #expect(logits.withUnsafeBufferPointer { sampler.sample($0, history: []) } == 3)
    }

    /// inspect lists layer 2 before layer 10, and --no-tensors leaves the table out.
    @Test func inspectListsLayersInNaturalOrder() throws {
        let names = ["h.10.w", "h.2.w", "h.1.b", "h.1.a", "wte", "h.02.x", "h.100"]
        #expect(names.sorted(by: naturallyPrecedes) == ["h.1.a", "h.1.b", "h.2.w", "h.02.x", "h.10.w", "h.100", "wte"])
        let dir = TemporaryDirectory()
        let model = try editedModel("tiny-genesis", in: dir) { tensors in
            tensors.append((TensorSpec(name: "transformer.h.10.extra", dtype: .float32, shape: [1]), [0, 0, 0, 0]))
        }
        let lines = CLI.run(["inspect", model]).stdout.split(separator: "\n").map { String($0.prefix { $0 != " " }) }
        let ten = try #require(lines.firstIndex(of: "transformer.h.10.extra")), three = try #require(lines.firstIndex(of: "transformer.h.3.mlp.c_proj.weight"))
        #expect(three < ten)
        let short = CLI.run(["inspect", model, "--no-tensors"])
        #expect(short.status == 0 && short.stdout.contains("53 tensors") && !short.stdout.contains("transformer.h.0"), "\(short.stdout)")
    }

    /// Text files are --file (-f) in every command, '-' for standard input.
    @Test func filesAreFileEverywhere() throws {
        let model = Fixtures.model("tiny-genesis")
        let piped = CLI.run(["tokenize", model, "--file", "-", "--json"], input: Array("And God".utf8))
        #expect(try JSON.parse(Array(piped.stdout.utf8)).object?["text"]?.string == "And God", "\(piped.stderr)")
        let r = CLI.run(["perplexity", model, "-f", "-", "--context", "16"], input: Array(String(repeating: "And God said unto him. ", count: 8).utf8))
        #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
    }

    /// chat's habits: a system prompt from a file, --stop, a message over several lines,
    /// /help, what /system and /reset did, /stats after /reset, a reply cut off at -n.
    @Test func chatSaysWhatItDid() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.model("tiny-genesis")
        writeFile(dir.file("system.txt"), Array("The Book of Genesis.".utf8))
        let input = "And God\\\nsaid\n/help\n/system Be brief.\n/system\n/reset\n/stats\n"
        let r = CLI.run(["chat", model, "-f", dir.file("system.txt"), "-n", "3", "--temperature", "0", "--json"], input: Array(input.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        for words in ["commands: /reset", "the system prompt is set", "the system prompt is removed", "the conversation is cleared",
                      "context: 0 of 128 tokens", "the reply was cut off at -n 3 tokens"] {
            #expect(r.stderr.contains(words), "\(words): \(r.stderr)")
        }
        let o = try Self.json(r)
        #expect(o["system"] == .null, "/system with nothing removes it: \(o)")
        let fromFile = try Self.json(CLI.run(["chat", model, "-f", dir.file("system.txt"), "--message", "hi", "-n", "1", "--json"]))
        #expect(fromFile["system"]?.string == "The Book of Genesis.", "\(fromFile)")
        #expect(o["turns"]?.array?.first?.object?["user"]?.string == "And God\nsaid", "\(o)")
        // --stop ends the reply where its text appears, as run's does.
        let free = try Self.json(CLI.run(["chat", model, "--message", "And God said", "-n", "12", "--temperature", "0", "--json"]))
        let reply = try #require(free["turns"]?.array?.first?.object?["reply"]?.string)
        let stop = String(reply.dropFirst(reply.count / 2).prefix(2))
        let cut = try Self.json(CLI.run(["chat", model, "--message", "And God said", "-n", "12", "--temperature", "0", "--stop", stop, "--json"]))
        #expect(cut["turns"]?.array?.first?.object?["reply"]?.string == String(reply[..<reply.firstRange(of: stop)!.lowerBound]), "\(stop) in \(reply)")
    }

    /// trace on a terminal fits it: the matrices and values wrap instead of running past.
    @Test func traceFitsTheTerminal() throws {
        let model = try ModelLoader.load(Fixtures.model("tiny-genesis"))
        let trace = try Generator(model: model).trace(prompt: "And God said", top: 3)
        let wide = trace.textReport().split(separator: "\n").map(\.count).max() ?? 0
        #expect(wide > 100)
        for width in [100, 120] {
            let lines = trace.textReport(width: width).split(separator: "\n")
            #expect(lines.allSatisfy { $0.count <= width }, "\(lines.filter { $0.count > width })")
            #expect(trace.textReport(width: width).contains("Block 3 MLP"))
        }
    }
}

/// perplexity's default window is llama-perplexity's 512 tokens, or the model's context
/// when that is shorter, and the report says which it used.
@Suite struct PerplexityWindowTests {
    @Test func theDefaultWindowIs512Tokens() throws {
        let dir = TemporaryDirectory()
        let tiny = try #require(try ModelSource.tensors(Fixtures.model("tiny-llama")).config)
        var config = ModelConfig(family: .llama, vocabSize: tiny.vocabSize, hiddenSize: 64, layers: 1, heads: 2, kvHeads: 1,
                                 intermediateSize: 96, contextLength: 1024, tiedEmbeddings: true)
        config.ropeTheta = 10_000
        try SyntheticCheckpoint.write(config: config, directory: dir.path)
        copyFile(Fixtures.model("tiny-llama") + "/tokenizer.json", dir.file("tokenizer.json"))
        let model = try ModelLoader.load(dir.path, threads: 1)
        let ids = (0..<600).map { $0 % 200 }
        let r = try Perplexity.evaluate(model, ids: ids)
        #expect(r.context == 512)
        #expect(r.predicted == 511 + 87)
        #expect(r.textReport(model: "m", compare: nil).contains("windows of 512"))
        // A model whose context is shorter uses its context.
        #expect(try Perplexity.evaluate(try RunnerTests.f32, ids: Array(ids.prefix(300))).context == 128)
    }

    /// `--chunks` is llama-perplexity's method, worked out here by hand from the model's own
    /// logits: whole chunks only, BOS in place of each chunk's first token (Llama's tokenizer
    /// adds one), positions n/2 + 1 ..< n scored.
    @Test func chunksAreLlamaPerplexitysMethod() throws {
        let model = try ModelLoader.load(Fixtures.model("tiny-llama"), threads: 1, cache: .f32)
        let bos = try #require(model.tokenizer.prefixIDs.first)
        let ids = model.tokenizer.encode(String(repeating: "And God said, Let there be light: and there was light. ", count: 12))
        let n = 32
        #expect(ids.count > 3 * n && ids.count % n != 0)
        let r = try Perplexity.evaluate(model, ids: ids, context: n, method: .chunks(limit: nil))
        var nll = 0.0, scored = 0
        var logProbabilities = [Double](repeating: 0, count: model.vocabularySize)
        for c in 0..<(ids.count / n) {
            var chunk = Array(ids[(c * n)..<((c + 1) * n)])
            chunk[0] = bos
            let state = model.makeState()
            try model.forward(chunk, state: state, allLogits: true)
            for i in (n / 2)..<(n - 1) {
                Perplexity.logSoftmax(state.logits(row: i), into: &logProbabilities)
                nll -= logProbabilities[chunk[i + 1]]
                scored += 1
            }
        }
        #expect(r.predicted == scored && scored == (ids.count / n) * (n - n / 2 - 1))
        #expect(r.meanNLL == nll / Double(scored))
        #expect(r.json.object?["method"] == .string("chunks"))
        #expect(r.textReport(model: "m", compare: nil).contains("llama-perplexity's chunks of 32"))
        // A limit, and a text too short for two chunks.
        #expect(try Perplexity.evaluate(model, ids: ids, context: n, method: .chunks(limit: 2)).predicted == 2 * (n - n / 2 - 1))
        #expect(throws: GenerationError.self) { try Perplexity.evaluate(model, ids: Array(ids.prefix(2 * n - 1)), context: n, method: .chunks(limit: nil)) }
    }
}
