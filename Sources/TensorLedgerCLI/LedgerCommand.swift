// `tensorledger ledger`: the parameter table of a checkpoint, a config.json or a preset.

import ArgumentParser
import TensorLedger

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Sort every weight matrix into the GPT-3 walkthrough's eight categories and print the parameter table.",
        discussion: "Presets: " + ModelConfig.presets.map(\.name).joined(separator: ", "))

    @Argument(help: "A checkpoint (file, index or directory), a .tlm or a GGUF file. Omit with --config or --preset.", completion: .file())
    var model: String?

    @Option(help: "Compute the ledger from a Hugging Face config.json alone, without weights.", completion: .file(extensions: ["json"]))
    var config: String?

    @Option(help: "Compute the ledger of a known model shape (for example gpt2, gpt3-175b).", completion: .list(ModelConfig.presets.map(\.name)))
    var preset: String?

    @Flag(help: "Add a per-layer table.")
    var layers = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        let sources = [model != nil, config != nil, preset != nil].filter { $0 }.count
        if sources != 1 {
            throw ValidationError("Give exactly one of MODEL, --config or --preset.")
        }
    }

    func run() throws {
        let (ledger, warnings) = try reportingErrors(json: output.json) { () throws -> (Ledger, [String]) in
            if let preset {
                return (Ledger(config: try ModelConfig.preset(preset), source: "preset \(preset)"), [])
            }
            if let config {
                return (Ledger(config: try ModelConfig.load(config), source: config), [])
            }
            return try ModelSource.ledger(model!)
        }
        if output.json {
            print(ledger.json(warnings: warnings).serialized())
        } else {
            warnings.forEach(printWarning)
            printReport(ledger.textReport(perLayer: layers))
        }
    }
}
