// `tensorledger verify`: check every checksum of a .tlm file.

import ArgumentParser
import TensorLedger

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the checksums of a .tlm file's header, tensors and embedded files; names the first damaged one.")

    @Argument(help: "The .tlm file.", completion: .file())
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try reportingErrors(json: output.json) {
            do {
                return try VerifyReport.checkModel(file)
            } catch let damage as any TensorLedgerError where output.json && damage.category == .badInput {
                print(VerifyReport.damagedJSON(file: file, error: damage).serialized())
                throw damage
            }
        }
        if output.json { print(report.json.serialized()) } else { printReport(report.textReport) }
    }
}
