// What `verify` reports about a .tlm file whose every checksum and padding byte held.

import TensorLedgerCore

public struct VerifyReport: Sendable {
    public static let jsonSchema = "tensorledger.verify/1"
    public var file: String
    public var tensors: Int
    public var blobs: Int
    public var bytesChecked: Int
    public var seconds: Double

    /// Opens and fully verifies `path`; throws the first damage found. `header` checks what
    /// this layer cannot read itself (the model configuration, in TensorLedgerModels).
    public static func check(_ path: String, header: (TLMFile) throws -> Void = { _ in }) throws -> VerifyReport {
        let clock = Stopwatch()
        let tlm = try TLMFile(path: path)
        try header(tlm)
        let bytes = try tlm.verify()
        return VerifyReport(file: path, tensors: tlm.tensors.count, blobs: tlm.header.blobs.count,
                            bytesChecked: bytes, seconds: clock.seconds)
    }

    public var textReport: String {
        "\(file): OK: header, \(tensors) tensors and \(blobs) embedded files, \(formatCount(bytesChecked)) bytes checked in \(formatFixed(seconds * 1000, 1)) ms"
    }

    public var json: JSONValue {
        JSONObject([
            "file": .string(file), "ok": .bool(true), "tensors": .int(tensors), "blobs": .int(blobs),
            "bytes_checked": .int(bytesChecked), "seconds": .double(seconds),
        ]).report(schema: Self.jsonSchema)
    }

    /// What `verify --json` prints for a damaged file: the same shape, `ok` false, and the
    /// damage found (verification stops at the first).
    public static func damagedJSON(file: String, error: any TensorLedgerError) -> JSONValue {
        JSONObject(["file": .string(file), "ok": .bool(false), "failures": .array([.string(error.description)])])
            .report(schema: jsonSchema)
    }
}
