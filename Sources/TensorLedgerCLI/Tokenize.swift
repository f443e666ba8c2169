// `tensorledger tokenize`: text to token ids and back, with any model's tokenizer.

import ArgumentParser
import TensorLedger

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how a tokenizer splits text (or, with --decode, what ids stand for).")

    @Argument(help: "A .tlm file, a model directory with tokenizer.json, a tokenizer.json, or a GGUF vocabulary file.", completion: .file())
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(name: [.customShort("f"), .long], help: "Read the text to tokenize from a file ('-': standard input).", completion: .file())
    var file: String?

    @Option(parsing: .upToNextOption, help: "Token ids to decode instead.")
    var decode: [Int] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        let given = [text != nil, file != nil, !decode.isEmpty].filter { $0 }.count
        if given != 1 { throw ValidationError("Give exactly one of --text, --file or --decode.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let tokenizer = try TokenizerSource.load(model)
            if !decode.isEmpty {
                let report = try TokenizationReport(ids: decode, tokenizer: tokenizer)
                if output.json { print(report.json.serialized(pretty: false)) } else { printReport(report.text) }
                return
            }
            let input = try text ?? String(decoding: readWholeFile(file!, dashIsStandardInput: true), as: UTF8.self)
            let report = try TokenizationReport(text: input, tokenizer: tokenizer)
            if output.json {
                print(report.json.serialized(pretty: false))
                return
            }
            if !report.ids.isEmpty { printReport(report.textReport) }
            Console.writeErr(report.summaryLine + "\n")
        }
    }
}
