// What `run` reports beside the text: the generation's timings, how long loading took,
// and the facts that make its speed comparable (scheme, weight bytes one token reads,
// threads, the kernels' variant), as the stderr line and as JSON.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public struct RunReport: Sendable {
    public static let jsonSchema = "tensorledger.run/1"
    public var result: GenerationResult
    public var loadSeconds: Double
    public var scheme: String
    public var weightBytesPerToken: Int
    public var threads: Int
    /// The kernels' variant the model ran (avx2, neon-dotprod, …).
    public var kernels: String
    /// The process's resident memory when the report was made, the model, its cache and
    /// buffers still held.
    public var residentBytes: Int
    /// The sampler's seed: given, or drawn for this run (the same seed repeats it).
    public var seed: UInt64

    public init(result: GenerationResult, loadSeconds: Double, model: any LanguageModel, seed: UInt64) {
        self.result = result
        self.seed = seed
        self.loadSeconds = loadSeconds
        scheme = model.weightFormat
        weightBytesPerToken = model.weightBytesPerToken
        threads = model.threads
        kernels = model.kernels.name
        residentBytes = TensorLedgerCore.residentBytes()
    }

    /// The line `run` prints on stderr.
    public var statsLine: String {
        "load \(formatFixed(loadSeconds * 1000, 1)) ms; prompt \(result.promptIDs.count) tokens, \(formatFixed(result.promptTokensPerSecond, 1)) tokens/s; "
            + "generation \(result.generatedIDs.count) tokens, \(formatFixed(result.generationTokensPerSecond, 1)) tokens/s "
            + "(\(scheme), \(threads) thread\(threads == 1 ? "" : "s"), \(kernels)); stopped: \(result.stopReason.words); seed \(seed)"
    }

    public var json: JSONValue {
        var o = result.json.object!
        o["load_seconds"] = .double(loadSeconds)
        o["weight_scheme"] = .string(scheme)
        o["weight_bytes_per_token"] = .int(weightBytesPerToken)
        o["threads"] = .int(threads)
        o["kernels"] = .string(kernels)
        o["resident_bytes"] = .int(residentBytes)
        o["seed"] = .int(Int(seed))
        return o.report(schema: Self.jsonSchema)
    }
}
