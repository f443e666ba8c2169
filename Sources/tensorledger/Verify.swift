// `tensorledger verify`: check every checksum of a .tlm file.

import ArgumentParser
import TensorLedger

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the checksums of a .tlm file's header, tensors and embedded files; names the first damaged one.")

    @Argument(help: "The .tlm file.")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let (tlm, bytes, seconds) = try reportingErrors { () throws -> (TLMFile, Int, Double) in
            let start = monotonicSeconds()
            let tlm = try TLMFile(path: file)
            let bytes = try tlm.verify()
            return (tlm, bytes, monotonicSeconds() - start)
        }
        if output.json {
            print(JSONValue.object(JSONObject([
                "file": .string(file), "ok": .bool(true), "tensors": .int(tlm.tensors.count),
                "blobs": .int(tlm.header.blobs.count), "bytes_checked": .int(bytes), "seconds": .double(seconds),
            ])).serialized())
        } else {
            print("\(file): OK: header, \(tlm.tensors.count) tensors and \(tlm.header.blobs.count) embedded files, \(formatCount(bytes)) bytes checked in \(formatFixed(seconds * 1000, 1)) ms")
        }
    }
}
