// `tensorledger inspect`: the files, headers and tensors of a checkpoint, header only.

import ArgumentParser
import TensorLedger

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tensors of a safetensors file, sharded checkpoint, .tlm or GGUF file (reads headers only).")

    @Argument(help: "A .safetensors file, a model.safetensors.index.json, a directory holding either, a .tlm or a GGUF file.", completion: .file())
    var model: String

    @Flag(help: "Only the files and the metadata, not the tensor table.")
    var noTensors = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try reportingErrors(json: output.json) { try ModelSource.inspect(model) }
        if output.json {
            print(report.json.serialized())
        } else {
            report.warnings.forEach(printWarning)
            printReport(report.textReport(tensors: !noTensors))
        }
    }
}
