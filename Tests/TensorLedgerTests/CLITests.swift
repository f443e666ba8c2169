// The command line as a user meets it: exit codes, one-line errors, never a trap.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    /// The tensorledger binary that `swift test` built beside this test bundle.
    static let binary: String = {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return joinPath(parentDirectory(exe), "tensorledger")
    }()

    /// Runs the binary with `args`, and with `input` on its standard input when given.
    static func run(_ args: [String], input: [UInt8]? = nil) -> CLIResult {
        guard let r = ChildProcess.run(binary, args, input: input) else { return CLIResult(status: -1, stdout: "", stderr: "cannot run \(binary)") }
        return CLIResult(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }
}

@Suite struct CLITests {
    static let malformed = SafetensorsTests.malformed.map(\.0).filter { !$0.hasPrefix("valid-") }

    @Test(arguments: malformed)
    func malformedFilesGiveOneLineAndExitOne(_ name: String) {
        let path = Fixtures.path("malformed/\(name).safetensors")
        // A GGUF file is read as one whatever its name (a vocabulary-only file, no model to ledger).
        let commands = name == "gguf" ? ["ledger", "convert"] : ["inspect", "ledger", "convert"]
        if name == "gguf" { #expect(CLI.run(["inspect", path]).stdout.contains("GGUF version 3")) }
        for command in commands {
            let args = command == "convert" ? [command, path, "/tmp/tensorledger-cli-never-written.tlm"] : [command, path]
            let r = CLI.run(args)
            #expect(r.status == 1, "\(command) \(name): exit \(r.status), stderr \(r.stderr)")
            #expect(r.stderr.hasPrefix("error: \(path): "), "\(command) \(name): \(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "one line: \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        #expect(!fileExists("/tmp/tensorledger-cli-never-written.tlm"))
    }

    @Test func everyJSONOutputNamesItsSchema() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.model("tiny-genesis"), tlm = dir.file("m.tlm"), text = dir.file("t.txt")
        writeFile(text, Array("In the beginning God created the heaven and the earth. And the earth was without form.".utf8))
        // In this order: convert writes the file verify, diff and run read.
        let commands: [(schema: String, arguments: [String])] = [
            (InspectReport.jsonSchema, ["inspect", model]), (Ledger.jsonSchema, ["ledger", model]),
            (MemoryPlan.jsonSchema, ["plan", model]), (ConversionReport.jsonSchema, ["convert", model, tlm]),
            (VerifyReport.jsonSchema, ["verify", tlm]), (ModelDiff.jsonSchema, ["diff", model, tlm]),
            (RunReport.jsonSchema, ["run", tlm, "--prompt", "In the", "-n", "2"]),
            (NextTokenReport.jsonSchema, ["next", model, "--prompt", "In the"]),
            (ForwardTrace.jsonSchema, ["trace", model, "--prompt", "In"]),
            (PerplexityResult.jsonSchema, ["perplexity", model, "--file", text, "--context", "32"]),
            (TokenizationReport.jsonSchema, ["tokenize", model, "--text", "In the beginning"]),
            (TokenizationReport.jsonSchema, ["tokenize", model, "--decode", "72", "73"]),
            (ChatSession.jsonSchema, ["chat", model, "--message", "Hello", "-n", "2"]),
        ]
        for (schema, arguments) in commands {
            let r = CLI.run(arguments + ["--json"])
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            let o = try #require(try JSON.parse(Array(r.stdout.utf8)).object, "\(arguments)")
            #expect(o.keys.first == "schema" && o["schema"]?.string?.hasPrefix("tensorledger.\(arguments[0])/") == true, "\(arguments): \(o.keys)")
            #expect(o["schema"]?.string == schema)
        }
        let encoded = try JSON.parse(Array(CLI.run(["tokenize", model, "--text", "hi", "--json"]).stdout.utf8))
        let decoded = try JSON.parse(Array(CLI.run(["tokenize", model, "--decode", "72", "73", "--json"]).stdout.utf8))
        #expect(encoded == decoded, "tokenize --json has one shape either way round")
    }

    /// The load time `run` reports is measured: more than nothing, and less than the whole
    /// process took (as this test measured it from outside).
    @Test func runReportsTheLoadTimeItMeasured() throws {
        let clock = Stopwatch()
        let r = CLI.run(["run", Fixtures.model("tiny-genesis"), "--prompt", "And God said", "-n", "2", "--threads", "1", "--json"])
        let wall = clock.seconds
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSON.parse(Array(r.stdout.utf8)).object)
        let load = try #require(o["load_seconds"]?.number)
        #expect(load > 0 && load < wall, "load \(load) s of a process that took \(wall) s")
    }

    @Test func kernelsAreChosenOnlyAmongWhatTheCPURuns() throws {
        let model = Fixtures.model("tiny-genesis")
        // The portable variant runs everywhere, and the report names the variant that ran.
        let portable = CLI.run(["run", model, "--prompt", "And God said", "-n", "2", "--temperature", "0", "--kernels", "Portable", "--json"])
        #expect(portable.status == 0, "\(portable.stderr)")
        #expect(try JSON.parse(Array(portable.stdout.utf8)).object?["kernels"]?.string == "portable")
        let best = CLI.run(["run", model, "--prompt", "And God said", "-n", "2", "--temperature", "0"])
        #expect(best.status == 0 && best.stderr.contains(", \(KernelISA.detected.name)); stopped:"), "\(best.stderr)")
        // The same greedy text from either variant.
        #expect(best.stdout == CLI.run(["run", model, "--prompt", "And God said", "-n", "2", "--temperature", "0", "--kernels", "portable"]).stdout)
        if let missing = KernelISA.allCases.first(where: { !KernelISA.available.contains($0) }) {
            let r = CLI.run(["run", model, "--prompt", "In", "-n", "1", "--kernels", missing.name])
            #expect(r.status == 64 && r.stderr.contains("--kernels \(missing.name): this CPU runs portable"), "\(r.stderr)")
        }
        let unknown = CLI.run(["next", model, "--prompt", "In", "--kernels", "sse9"])
        #expect(unknown.status == 64 && unknown.stderr.contains("sse9"), "\(unknown.stderr)")
    }

    @Test func withJSONAFailureIsJSONToo() throws {
        let missing = CLI.run(["inspect", "/nonexistent/model.safetensors", "--json"])
        #expect(missing.status == 3 && missing.stdout.isEmpty)
        let error = try #require(try JSON.parse(Array(missing.stderr.utf8)).object, "\(missing.stderr)")
        #expect(error["schema"]?.string == "tensorledger.error/1" && error["kind"]?.string == "missing_file" && error["exit_code"] == .int(3))
        #expect(error["error"]?.string?.hasPrefix("/nonexistent/model.safetensors: ") == true)
        #expect(missing.stderr.filter { $0 == "\n" }.count == 1, "one line: \(missing.stderr)")

        // A damaged file: verify's own shape on stdout, ok false, the damage named.
        let dir = TemporaryDirectory()
        let tlm = dir.file("m.tlm")
        #expect(CLI.run(["convert", Fixtures.model("tiny-genesis"), tlm]).status == 0)
        var bytes = try readWholeFile(tlm)
        bytes[bytes.count / 2] ^= 1
        writeFile(tlm, bytes)
        let damaged = CLI.run(["verify", tlm, "--json"])
        #expect(damaged.status == 1)
        let report = try #require(try JSON.parse(Array(damaged.stdout.utf8)).object, "\(damaged.stdout)")
        #expect(report["schema"]?.string == VerifyReport.jsonSchema && report["ok"] == .bool(false))
        #expect(report["failures"]?.array?.first?.string?.contains("fails its checksum") == true, "\(damaged.stdout)")
        #expect(try JSON.parse(Array(damaged.stderr.utf8)).object?["kind"]?.string == "bad_input")
    }

    @Test func runTakesThePromptFromAFileOrStandardInputAndStopsAtStopStrings() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        let prompt = "In the beginning", greedy = ["-n", "20", "--temperature", "0", "--json"]
        func json(_ r: CLIResult) throws -> JSONObject { try #require(try JSON.parse(Array(r.stdout.utf8)).object, "\(r.stderr)") }
        let plain = try json(CLI.run(["run", model, "--prompt", prompt] + greedy))
        let file = dir.file("prompt.txt")
        writeFile(file, Array(prompt.utf8))
        #expect(try json(CLI.run(["run", model, "-f", file] + greedy))["generated_ids"] == plain["generated_ids"])
        #expect(try json(CLI.run(["run", model, "--prompt-file", "-"] + greedy, input: Array(prompt.utf8)))["generated_ids"] == plain["generated_ids"])

        let text = try #require(plain["text"]?.string)
        let quiet = CLI.run(["run", model, "--prompt", prompt, "-n", "20", "--temperature", "0", "--no-echo"])
        #expect(quiet.stdout == text + "\n")

        // A stop string taken from the middle of the greedy text: generation ends where it begins.
        let stop = String(text.dropFirst(text.count / 2).prefix(3))
        let cut = String(text[..<text.firstRange(of: stop)!.lowerBound])
        let stopped = try json(CLI.run(["run", model, "--prompt", prompt, "--stop", "never there", "--stop", stop] + greedy))
        #expect(stopped["text"]?.string == cut && stopped["stop_reason"]?.string == "stop-string", "\(stop): \(stopped)")
        // Neither --prompt nor --prompt-file: the prompt is standard input (a pipe here).
        let piped = try json(CLI.run(["run", model] + greedy, input: Array(prompt.utf8)))
        #expect(piped["generated_ids"] == plain["generated_ids"], "\(piped)")
        let empty = CLI.run(["run", model, "-n", "2"], input: [])
        #expect(empty.status == 2 && empty.stderr.contains("the prompt is empty"), "\(empty.stderr)")
        #expect(CLI.run(["run", model, "-p", "a", "-f", "-", "-n", "2"]).status == 64)
    }

    @Test func aFileThatIsNotWeightsIsNamedForWhatItIs() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        let text = dir.file("notes.safetensors"), renamed = dir.file("config.safetensors")
        writeFile(text, Array("These are my notes about the model.\n".utf8))
        writeFile(renamed, try readWholeFile(model + "/config.json"))
        let cases = [
            (text, "this is a text file"),
            (renamed, "this is a model's config.json, not its weights"),
            (model + "/config.json", "this is a model's config.json, not its weights"),
            (model + "/tokenizer.json", "this is a tokenizer.json, not model weights"),
        ]
        for (path, says) in cases {
            let r = CLI.run(["inspect", path])
            #expect(r.status == 1 && r.stderr.hasPrefix("error: \(path): not a safetensors file: \(says)"), "\(r.stderr)")
        }
        // A GPTQ checkpoint given to convert: refused, naming the tensor that shows it.
        let header = Array(#"{"model.layers.0.self_attn.q_proj.qweight":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        let gptq = dir.file("gptq.safetensors")
        writeFile(gptq, withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + [0, 0, 0, 0])
        let quantized = CLI.run(["convert", gptq, dir.file("g.tlm")])
        #expect(quantized.status == 1 && quantized.stderr.contains("\"model.layers.0.self_attn.q_proj.qweight\" shows the checkpoint is already quantized (GPTQ or AWQ)"), "\(quantized.stderr)")
        #expect(!fileExists(dir.file("g.tlm")))
        let pytorch = dir.file("pt")
        _ = mkdir(pytorch, 0o755)
        writeFile(pytorch + "/pytorch_model.bin", [0x80, 0x02])
        let r = CLI.run(["ledger", pytorch])
        #expect(r.status == 1 && r.stderr.contains("PyTorch files (pytorch_model.bin); convert them to safetensors first"), "\(r.stderr)")
    }

    /// A model folder without tokenizer.json fails the same way (exit 1) in every command,
    /// and one with only the slow tokenizer's files says what to do.
    @Test func aMissingTokenizerIsOneErrorEverywhere() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        for name in ["model.safetensors", "config.json"] { copyFile(model + "/" + name, dir.file(name)) }
        let commands = [["run", dir.path, "--prompt", "And", "-n", "1"], ["tokenize", dir.path, "--text", "And"],
                        ["next", dir.path, "--prompt", "And"], ["chat", dir.path, "--message", "hi"]]
        for command in commands {
            let r = CLI.run(command)
            #expect(r.status == 1 && r.stderr.contains("no tokenizer (tokenizer.json beside the weights"), "\(command[0]): \(r.stderr)")
        }
        writeFile(dir.file("vocab.json"), Array(#"{"a": 0, "b": 1}"#.utf8))
        writeFile(dir.file("merges.txt"), Array("#version: 0.2\na b\n".utf8))
        for command in commands {
            let r = CLI.run(command)
            #expect(r.status == 1 && r.stderr.contains("has vocab.json and merges.txt but no tokenizer.json"), "\(command[0]): \(r.stderr)")
        }
        for (file, says) in [("vocab.json", "this is a vocab.json"), ("merges.txt", "this is a merges.txt"), ("config.json", "this is a model's config.json")] {
            let r = CLI.run(["tokenize", dir.file(file), "--text", "hi"])
            #expect(r.status == 1 && r.stderr.contains(says), "\(file): \(r.stderr)")
        }
    }

    /// A hub cache folder as huggingface_hub lays it out (snapshot files are symlinks into
    /// blobs/) reads as its current snapshot; a ref that is not a plain hash is not followed.
    @Test func aHuggingFaceCacheFolderReadsAsItsCurrentSnapshot() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        let cache = dir.file("models--acme--tiny-genesis")
        for sub in ["refs", "blobs", "snapshots/0123abcd", "snapshots/feedbeef"] { try makeDirectory(cache + "/" + sub) }
        for name in ["model.safetensors", "config.json", "tokenizer.json"] {
            copyFile(model + "/" + name, cache + "/blobs/" + name + ".blob")
            _ = symlink("../../blobs/" + name + ".blob", cache + "/snapshots/0123abcd/" + name)
        }
        writeFile(cache + "/refs/main", Array("0123abcd\n".utf8))
        let direct = CLI.run(["next", model, "--prompt", "And God", "--json"])
        for command in [["next", cache, "--prompt", "And God", "--json"], ["next", cache + "/", "--prompt", "And God", "--json"]] {
            let r = CLI.run(command)
            #expect(r.status == 0 && r.stdout == direct.stdout, "\(r.stderr)")
        }
        #expect(CLI.run(["ledger", cache]).status == 0)
        #expect(CLI.run(["tokenize", cache, "--text", "And God"]).status == 0)
        // The model's name is the hub's, not the snapshot's commit hash; config.json's
        // _name_or_path first where it has one.
        #expect(CLI.run(["convert", cache, dir.file("m.gguf")]).status == 0 && CLI.run(["convert", cache, dir.file("m.tlm")]).status == 0)
        #expect(try GGUFFile.open(dir.file("m.gguf")).string(GGUFKey.name) == "tiny-genesis")
        #expect(try TLMFile(path: dir.file("m.tlm")).header.source == "tiny-genesis")
        var config = try Fixtures.json("models/tiny-genesis/config.json")
        config["_name_or_path"] = .string("acme/Genesis-0.9M-Instruct")
        try makeDirectory(dir.file("named"))
        writeFile(dir.file("named/config.json"), Array(JSONValue.object(config).serialized().utf8))
        for name in ["model.safetensors", "tokenizer.json"] { copyFile(model + "/" + name, dir.file("named/" + name)) }
        #expect(CLI.run(["convert", dir.file("named"), dir.file("n.gguf")]).status == 0)
        #expect(try GGUFFile.open(dir.file("n.gguf")).string(GGUFKey.name) == "Genesis-0.9M-Instruct")
        writeFile(cache + "/refs/main", Array("../../../etc".utf8))
        #expect(CLI.run(["ledger", cache]).status != 0)
    }

    /// The library says what can be changed (`remedy`); the command line names the option.
    @Test func remediesAreWordedAsOptions() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        writeFile(dir.file("m.tlm"), [1])
        let exists = CLI.run(["convert", model, dir.file("m.tlm")])
        #expect(exists.status == 2 && exists.stderr.hasSuffix("already exists (use --force to replace it)\n"), "\(exists.stderr)")
        let rowwise = CLI.run(["convert", model, dir.file("m.gguf"), "--weights", "q8-row"])
        #expect(rowwise.status == 1 && rowwise.stderr.contains("GGUF has no q8-row type; use --weights q8, f16, bf16 or f32"), "\(rowwise.stderr)")
        #expect(FileError.outputExists(path: "x").remedy == .replaceOutput && FileError.notFound(path: "x").remedy == nil)
    }

    /// Shell completion knows the model paths are files and the values of the enums.
    @Test func completionScriptsKnowFilesAndValues() throws {
        let bash = CLI.run(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        for word in ["gpt3-175b", "llama-3.2-1b", "q8-row", "bf16"] { #expect(bash.stdout.contains(word), "\(word)") }
        let zsh = CLI.run(["--generate-completion-script", "zsh"]).stdout
        #expect(zsh.contains("'--weights[") && zsh.contains(":model:_files"), "\(zsh.prefix(300))")
        // Enum values in any case, as people type them.
        let dir = TemporaryDirectory()
        #expect(CLI.run(["synth", dir.file("s"), "--preset", "gpt2", "--dtype", "Bf16", "--sparse"]).status == 0)
        #expect(CLI.run(["plan", "--preset", "gpt2", "--weights", "Q8"]).status == 0)
        let bad = CLI.run(["plan", "--preset", "gpt2", "--weights", "q4"])
        #expect(bad.status == 64 && bad.stderr.contains("q8-row"), "\(bad.stderr)")
    }

    @Test func synthWritesARunnableCheckpointOfTheShapeFromTheSeed() throws {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        let a = dir.file("a"), b = dir.file("b"), c = dir.file("c")
        let shape = ["--config", model + "/config.json", "--tokenizer", model + "/tokenizer.json"]
        #expect(CLI.run(["synth", a, "--seed", "7"] + shape).status == 0)
        #expect(CLI.run(["synth", b, "--seed", "7"] + shape).status == 0)
        #expect(CLI.run(["synth", c, "--seed", "8", "--dtype", "F16"] + shape).status == 0)
        let (wa, wb, wc) = try (readWholeFile(a + "/model.safetensors"), readWholeFile(b + "/model.safetensors"), readWholeFile(c + "/model.safetensors"))
        #expect(wa == wb, "the same seed gives the same weights")
        #expect(wa != wc)
        // The shape of the model it was given, row for row, and it runs.
        let (original, _) = try ModelSource.ledger(model), (synthetic, _) = try ModelSource.ledger(a)
        #expect(synthetic.rows.map(\.parameters) == original.rows.map(\.parameters) && synthetic.rows.map(\.shapes) == original.rows.map(\.shapes))
        #expect(try SafetensorsFile(path: c + "/model.safetensors").tensors.allSatisfy { $0.dtype == .float16 })
        let run = CLI.run(["run", a, "--prompt", "In the", "-n", "4", "--temperature", "0", "--json"])
        let generated = try JSON.parse(Array(run.stdout.utf8)).object?["generated_ids"]?.array
        #expect(run.status == 0 && generated?.count == 4, "\(run.stderr)")
        #expect(CLI.run(["synth", a, "--seed", "7"] + shape).status == 2, "an existing checkpoint is not replaced without --force")
        let sparse = CLI.run(["synth", dir.file("big"), "--preset", "gpt2-medium", "--sparse"])
        let (big, _) = try ModelSource.ledger(dir.file("big"))
        let preset = Ledger(config: try ModelConfig.preset("gpt2-medium"), source: "gpt2-medium")
        #expect(sparse.status == 0 && big.uniqueParameters == preset.uniqueParameters)
    }

    @Test func exitCodesSayWhatWentWrong() {
        #expect(CLI.run(["inspect", "/nonexistent/model.safetensors"]).status == 3)
        #expect(CLI.run(["ledger"]).status != 0)  // argument errors come from the parser
        #expect(CLI.run(["ledger", "--preset", "gpt5"]).status == 2)
        let r = CLI.run(["run", Fixtures.model("tiny-genesis"), "--prompt", "x", "--top-p", "1.5"])
        #expect(r.status != 0 && r.stderr.contains("top-p"))
        #expect(CLI.run(["convert", Fixtures.model("tiny-genesis"), Fixtures.model("tiny-genesis") + "/model.safetensors", "--force"]).status == 2)
    }

    /// Every command's help speaks the user's words: a default shown as a Swift value
    /// (`scheme(TensorLedgerCore.WeightScheme.q8)`) is no help.
    @Test func everyHelpNamesItsDefaultsPlainly() {
        let top = CLI.run(["--help"])
        // A command's line is indented two spaces and starts in lower case; its description's
        // continuations are indented further.
        let commands = top.stdout.split(separator: "\n").drop { !$0.hasPrefix("SUBCOMMANDS") }
            .filter { $0.hasPrefix("  ") && $0.dropFirst(2).first?.isLowercase == true }
            .map { String($0.split(separator: " ")[0]) }
        #expect(commands.count >= 10 && commands.contains("convert"), "\(top.stdout)")
        for command in [nil] + commands {
            let help = CLI.run((command.map { [$0] } ?? []) + ["--help"])
            #expect(help.status == 0 && !help.stdout.contains("TensorLedger"), "\(command ?? "tensorledger"): \(help.stdout)")
        }
        #expect(CLI.run(["convert", "--help"]).stdout.contains("default: q8)"))
    }

    @Test func noSilentChanges() {
        let model = Fixtures.model("tiny-genesis"), dir = TemporaryDirectory()
        let help = CLI.run(["help", "runn"])
        #expect(help.status == 64 && help.stderr.contains("no command named 'runn'"), "\(help.stderr)")
        #expect(CLI.run(["help", "run"]).status == 0)
        for command in [["convert", model, dir.file("m.tlm")], ["plan", model]] {
            let r = CLI.run(command + ["--keep", "embeding"])
            #expect(r.status == 2 && r.stderr.contains("--keep \"embeding\" is no category (embedding,"), "\(command[0]): \(r.stderr)")
        }
        #expect(CLI.run(["convert", model, dir.file("m.tlm"), "--keep", "embedding", "*wpe*"]).status == 0)
        let contradiction = CLI.run(["convert", model, dir.file("n.tlm"), "--no-compress", "--zstd", "9"])
        #expect(contradiction.status == 64 && contradiction.stderr.contains("contradict"))
        #expect(!fileExists(dir.file("n.tlm")))
        for command in ["next", "trace"] {
            let r = CLI.run([command, model, "--prompt", "In", "--top", "0"])
            #expect(r.status == 64 && r.stderr.contains("--top must be positive"), "\(command): \(r.stderr)")
        }
        // The fixture's context is 128 tokens.
        let long = CLI.run(["run", model, "--prompt", String(repeating: "word ", count: 200), "-n", "2"])
        #expect(long.status == 2 && long.stdout.isEmpty && long.stderr.contains("context holds 128 tokens"), "\(long.stderr)")
        let many = CLI.run(["run", model, "--prompt", "In the", "-n", "500", "--temperature", "0"])
        #expect(many.status == 0 && many.stderr.hasPrefix("warning: -n 500 does not fit: the context of 128 tokens leaves room for 126"), "\(many.stderr)")
        let text = dir.file("t.txt")
        writeFile(text, Array("In the beginning God created the heaven and the earth.".utf8))
        let window = CLI.run(["perplexity", model, "--file", text, "--context", "129"])
        #expect(window.status == 2 && window.stderr.contains("--context 129 is longer than the 128 tokens"), "\(window.stderr)")
        #expect(CLI.run(["perplexity", model, "--file", text, "--context", "128"]).status == 0)
    }

    @Test func aFullDiskLeavesNothingBehind() throws {
        // A file size limit makes write() fail with EFBIG partway through the output.
        let dir = TemporaryDirectory()
        let script = "ulimit -f 200; exec '\(CLI.binary)' convert '\(Fixtures.model("tiny-genesis"))' '\(dir.file("m.tlm"))' --no-compress"
        let r = try #require(ChildProcess.run("/bin/sh", ["-c", script]))
        // 128 + a signal would mean SIGXFSZ killed it instead of write() failing.
        #expect(r.status == 4, "exit status \(r.status) (4 is a write failure): \(r.stderr)")
        #expect(try directoryEntries(dir.path).isEmpty, "no output and no temporary file")
    }

    @Test(arguments: [0, 2_000, 10_000, 40_000, 150_000])
    func killedMidwayLeavesNothingHalfWritten(_ delayMicroseconds: Int) throws {
        // Whenever SIGKILL lands, there is either no output or a complete, valid one, never a
        // partial or hidden temporary file, and the input is untouched.
        let dir = TemporaryDirectory()
        let input = Fixtures.model("tiny-genesis") + "/model.safetensors"
        let before = xxh64(try readWholeFile(input))
        let pid = try #require(ChildProcess.start(CLI.binary, ["convert", Fixtures.model("tiny-genesis"), dir.file("m.tlm"), "--zstd", "19"]))
        usleep(UInt32(delayMicroseconds))
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let entries = try directoryEntries(dir.path)
        #expect(entries.isEmpty || entries == ["m.tlm"], "left behind: \(entries)")
        if entries == ["m.tlm"] { try TLMFile(path: dir.file("m.tlm")).verify() }
        #expect(xxh64(try readWholeFile(input)) == before)
    }

    @Test func symlinkLoopsAndDirectoriesAreNamed() throws {
        let dir = TemporaryDirectory()
        #expect(symlink(dir.file("b"), dir.file("a")) == 0 && symlink(dir.file("a"), dir.file("b")) == 0)
        let loop = CLI.run(["inspect", dir.file("a")])
        #expect(loop.status == 3 && loop.stderr.contains("symbolic links"), "\(loop.stderr)")
        let directory = CLI.run(["verify", dir.path])
        #expect(directory.status == 1 && directory.stderr.contains("is a directory"), "\(directory.stderr)")
    }

    /// `verify` checks .tlm files; handed another kind, it says which kind it was given.
    @Test func verifySaysWhatElseItWasGiven() {
        let weights = Fixtures.model("tiny-genesis") + "/model.safetensors"
        let r = CLI.run(["verify", weights])
        #expect(r.status == 1 && r.stderr.contains("not a .tlm file (it is a safetensors file)"), "\(r.stderr)")
        let gguf = CLI.run(["verify", Fixtures.path("gguf/tiny-llama-q8_0.gguf")])
        #expect(gguf.status == 1 && gguf.stderr.contains("not a .tlm file (it is a GGUF file)"), "\(gguf.stderr)")
    }

    @Test func runStreamsTextAndReportsOnStderr() {
        let r = CLI.run(["run", Fixtures.model("tiny-genesis"), "--prompt", "And God said", "-n", "8", "--seed", "1"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("And God said"))
        #expect(r.stderr.contains("tokens/s"))
    }
}
