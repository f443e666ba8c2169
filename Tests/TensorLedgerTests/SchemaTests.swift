// Every --json output against its documented JSON Schema (docs/schemas), from real runs
// of the binary: a field added, renamed or retyped without the schema fails here.

import Testing
@testable import TensorLedger

@Suite(.serialized) struct SchemaTests {
    static let schemaDirectory = Fixtures.root + "/docs/schemas"

    static func validator(for schema: String) throws -> JSONSchemaValidator {
        // "tensorledger.inspect/2" is documented in inspect.schema.json.
        let name = String(schema.dropFirst("tensorledger.".count).prefix { $0 != "/" })
        let root = try #require(try JSON.parse(try readWholeFile("\(schemaDirectory)/\(name).schema.json")).object)
        #expect(root["title"]?.string == schema, "\(name).schema.json documents \(root["title"]?.string ?? "nothing"), the output says \(schema)")
        return JSONSchemaValidator(root: root)
    }

    /// Checks one output (stdout, or stderr for an error) against the schema it names.
    static func conforms(_ output: String, _ command: [String]) throws {
        let value = try JSON.parse(Array(output.utf8))
        let schema = try #require(value.object?["schema"]?.string, "\(command): no schema field")
        let failures = try validator(for: schema).failures(value)
        #expect(failures.isEmpty, "\(command.joined(separator: " ")): \(failures.prefix(5))")
        // A report holding another command's output (report's ledger, conversion, diff)
        // holds it as that command writes it.
        for nested in value.object!.values.flatMap(Self.nestedReports) {
            let failures = try validator(for: nested.object!["schema"]!.string!).failures(nested)
            #expect(failures.isEmpty, "\(command.joined(separator: " ")), its \(nested.object!["schema"]!): \(failures.prefix(5))")
        }
    }

    static func nestedReports(_ value: JSONValue) -> [JSONValue] {
        guard let o = value.object else { return value.array?.flatMap(nestedReports) ?? [] }
        if o["schema"]?.string?.hasPrefix("tensorledger.") == true { return [value] }
        return o.values.flatMap(nestedReports)
    }

    @Test func everyOutputMatchesItsSchema() throws {
        let dir = TemporaryDirectory()
        let genesis = Fixtures.model("tiny-genesis"), llama = Fixtures.model("tiny-llama"), qwen = Fixtures.model("tiny-qwen2")
        let tlm = dir.file("m.tlm"), gguf = dir.file("m.gguf")
        writeFile(dir.file("short.txt"), Array(String(decoding: try readWholeFile(Fixtures.path("text/genesis.txt")), as: UTF8.self).prefix(1500).utf8))
        let commands: [[String]] = [
            ["convert", genesis, tlm, "--json"], ["convert", genesis, gguf, "--json"], ["convert", llama, dir.file("l.tlm"), "--keep", "embedding", "--report", "--json"],
            ["convert", genesis, dir.file("x.tlm"), "--dry-run", "--json"], ["convert", genesis, dir.file("k.gguf"), "--weights", "q4_k_m", "--json"],
            ["inspect", genesis, "--json"], ["inspect", tlm, "--json"], ["inspect", gguf, "--json"], ["inspect", Fixtures.model("gpt2-tiny-sharded"), "--json"],
            ["inspect", Fixtures.path("gguf/tiny-qwen2-q4_0.gguf"), "--json"],
            ["ledger", genesis, "--json"], ["ledger", llama, "--json"], ["ledger", "--preset", "gpt3-175b", "--json"],
            ["ledger", "--config", qwen + "/config.json", "--json"],
            ["plan", genesis, "--json"], ["plan", llama, "--json"], ["diff", genesis, tlm, "--json"], ["verify", tlm, "--json"],
            ["run", genesis, "--prompt", "And God", "-n", "4", "--json"], ["run", llama, "--prompt", "And", "-n", "3", "--json"],
            ["next", genesis, "--prompt", "And God", "--json"], ["trace", genesis, "--prompt", "And God", "--json"],
            ["trace", llama, "--prompt", "And God", "--json"],
            ["perplexity", genesis, "--file", dir.file("short.txt"), "--compare", tlm, "--json"],
            ["tokenize", genesis, "--text", "And God", "--json"], ["tokenize", genesis, "--decode", "1", "2", "3", "--json"],
            ["chat", qwen, "--system", "Be brief.", "--message", "hi", "--message", "again", "-n", "4", "--json"],
            ["report", genesis, "--compare", Fixtures.model("tiny-genesis-finetuned"), "--json"], ["report", tlm, "--json"],
            ["report", Fixtures.path("gguf/tiny-qwen2-q4_0.gguf"), "--weights", "q8", "--json"],
            ["report", Fixtures.model("tiny-mixtral"), "--weights", "none", "--json"],
        ]
        for command in commands {
            let r = CLI.run(command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            try Self.conforms(r.stdout, command)
        }
    }

    /// The reporting commands on every format a model comes in: safetensors in f32, f16 and
    /// bf16, .tlm in each scheme, and GGUF of each type the fixtures hold (a schema that
    /// knows only F32 fails here).
    @Test func everyFormatMatchesTheSchemas() throws {
        let dir = TemporaryDirectory()
        let config = Fixtures.model("gpt2-tiny") + "/config.json"
        var models: [String] = [Fixtures.model("tiny-genesis")]
        for dtype in ["F16", "BF16"] {
            let out = dir.file("st-" + dtype)
            #expect(CLI.run(["synth", out, "--config", config, "--dtype", dtype]).status == 0)
            models.append(out)
        }
        for scheme in WeightScheme.plain.map(\.rawValue) + ["Q4_0", "Q4_K_M"] {
            let out = dir.file("m-\(scheme).tlm")
            #expect(CLI.run(["convert", Fixtures.model("tiny-llama"), out, "--weights", scheme]).status == 0)
            models.append(out)
        }
        models += ["tiny-genesis-q8_0", "tiny-llama-f32", "tiny-qwen2-q4_0", "tiny-qwen2-q8_0"].map { Fixtures.path("gguf/\($0).gguf") }
        for model in models {
            for command in [["ledger", model, "--json"], ["inspect", model, "--json"], ["plan", model, "--json"]] {
                let r = CLI.run(command)
                #expect(r.status == 0, "\(command): \(r.stderr)")
                try Self.conforms(r.stdout, command)
            }
        }
        for (model, output) in [(Fixtures.model("tiny-llama"), dir.file("r.gguf")), (Fixtures.model("tiny-genesis"), dir.file("r.tlm"))] {
            let command = ["convert", model, output, "--report", "--json"]
            let r = CLI.run(command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            try Self.conforms(r.stdout, command)
        }
    }

    @Test func failuresMatchTheirSchemasToo() throws {
        let dir = TemporaryDirectory()
        _ = try Converter.convert(input: Fixtures.model("tiny-genesis"), output: dir.file("m.tlm"), options: ConversionOptions())
        var bytes = try readWholeFile(dir.file("m.tlm"))
        bytes[5000] ^= 0xFF
        writeFile(dir.file("bad.tlm"), bytes)
        let damaged = CLI.run(["verify", dir.file("bad.tlm"), "--json"])
        #expect(damaged.status == 1)
        try Self.conforms(damaged.stdout, ["verify (damaged)"])
        try Self.conforms(damaged.stderr, ["verify (damaged), stderr"])
        let missing = CLI.run(["inspect", dir.file("missing"), "--json"])
        #expect(missing.status == 3)
        try Self.conforms(missing.stderr, ["inspect (missing)"])
        // A malformed command line too: an unknown option, a value of the wrong type.
        for command in [["inspect", dir.file("m.tlm"), "--jsn", "--json"], ["run", dir.file("m.tlm"), "-n", "many", "--json"]] {
            let r = CLI.run(command)
            #expect(r.status == 64, "\(command): \(r.stderr)")
            try Self.conforms(r.stderr, command)
        }
    }

    /// The validator is not a rubber stamp: a missing field, an extra one, a wrong type and
    /// a value outside an enum are each caught.
    @Test func theValidatorCatchesWhatBreaksTheContract() throws {
        let r = CLI.run(["run", Fixtures.model("tiny-genesis"), "--prompt", "And God", "-n", "2", "--json"])
        let good = try #require(try JSON.parse(Array(r.stdout.utf8)).object)
        let validator = try Self.validator(for: RunReport.jsonSchema)
        #expect(validator.failures(.object(good)).isEmpty)
        var missing = JSONObject()
        for (k, v) in good.pairs where k != "text" { missing[k] = v }
        var extra = good, retyped = good, outside = good
        extra["surprise"] = .int(1)
        retyped["threads"] = .string("2")
        outside["stop_reason"] = .string("tired")
        for (broken, expected) in [(missing, "missing \"text\""), (extra, "surprise"), (retyped, "threads"), (outside, "stop_reason")] {
            let failures = validator.failures(.object(broken))
            #expect(failures.count == 1 && failures[0].contains(expected), "\(failures)")
        }
    }

    /// convert's schema names the schemes and mixes the tool has, no more and no fewer.
    @Test func convertsSchemaNamesEveryScheme() throws {
        let root = try #require(try JSON.parse(try readWholeFile("\(Self.schemaDirectory)/convert.schema.json")).object)
        let asked = root["properties"]!.object!["scheme"]!.object!["enum"]!.array!.map { $0.string! }
        let stored = root["properties"]!.object!["tensors"]!.object!["items"]!.object!["properties"]!.object!["scheme"]!.object!["enum"]!.array!.map { $0.string! }
        #expect(asked == WeightChoice.allNames)
        #expect(stored == WeightScheme.allCases.map(\.rawValue))
    }

    /// Every schema a report declares has its file, and every file a report.
    @Test func everySchemaIsDocumented() throws {
        let declared = [InspectReport.jsonSchema, Ledger.jsonSchema, ConversionReport.jsonSchema, VerifyReport.jsonSchema,
                        RunReport.jsonSchema, NextTokenReport.jsonSchema, ForwardTrace.jsonSchema, PerplexityResult.jsonSchema,
                        TokenizationReport.jsonSchema, MemoryPlan.jsonSchema, ModelDiff.jsonSchema, ChatSession.jsonSchema, FileError.jsonSchema, ModelReport.jsonSchema]
        let files = try directoryEntries(Self.schemaDirectory).filter { $0.hasSuffix(".schema.json") }
        #expect(files.count == declared.count, "\(files)")
        for schema in declared { _ = try Self.validator(for: schema) }
    }
}
