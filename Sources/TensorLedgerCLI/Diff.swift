// `tensorledger diff`: what changed between two checkpoints of one architecture.

import ArgumentParser
import TensorLedger

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What changed between two checkpoints (a fine-tune and its base, a .tlm file and its source): per tensor, category and layer.")

    @Argument(help: "The first model: a checkpoint (file, index or directory), a .tlm or a GGUF file.", completion: .file())
    var a: String

    @Argument(help: "The second model.", completion: .file())
    var b: String

    @Option(parsing: .unconditional, help: "How many of the most-changed tensors to list.")
    var top: Int = 10

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top must not be negative.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let diff = try ModelDiff.compare(a, b)
            if output.json { print(diff.json(top: top).serialized()) } else { printReport(diff.textReport(top: top)) }
        }
    }
}
