// `tensorledger synth`: a random checkpoint of a known shape, for benchmarks and tests.

import ArgumentParser
import TensorLedger

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint of a preset's or config's shape with random weights from a fixed seed.")

    @Argument(help: "Directory to write model.safetensors and config.json into (created if missing).", completion: .directory)
    var directory: String

    @Option(help: "A preset shape (see `ledger --help`).", completion: .list(ModelConfig.presets.map(\.name)))
    var preset: String?

    @Option(help: "A config.json giving the shape.", completion: .file(extensions: ["json"]))
    var config: String?

    @Option(help: "Element type (any case).")
    var dtype: FloatType = .f32

    @Option(parsing: .unconditional, help: "Seed of the random weights.")
    var seed: UInt64 = 42

    @Flag(help: "Leave the data as a hole of zeros: instant, for header-only benchmarks of huge shapes.")
    var sparse = false

    @Option(help: "A tokenizer (tokenizer.json or a GGUF vocabulary) to write beside the weights as tokenizer.json.", completion: .file())
    var tokenizer: String?

    @Flag(help: "Replace existing files.")
    var force = false

    func validate() throws {
        if (preset == nil) == (config == nil) { throw ValidationError("Give exactly one of --preset or --config.") }
    }

    func run() throws {
        try reportingErrors(json: false) {
            // Every input is read before anything is written.
            let shape = try preset.map { try ModelConfig.preset($0) } ?? ModelConfig.load(config!)
            let vocabulary = try tokenizer.map { try TokenizerSource.load($0) }
            try makeDirectory(directory)
            let written = try SyntheticCheckpoint.write(config: shape, directory: directory, dtype: dtype.dtype, seed: seed, sparse: sparse,
                                                        overwrite: force, tokenizer: vocabulary, protecting: [config, tokenizer].compactMap { $0 })
            print("wrote " + written.joined(separator: ", "))
        }
    }
}
