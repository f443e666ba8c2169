// `plan` against what conversion writes and what running takes.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized) struct PlanTests {
    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-genesis"])
    func weightBytesAreWhatConvertWrites(_ name: String) throws {
        let (tensors, config, source, _) = try ModelSource.tensors(Fixtures.model(name))
        let plan = try MemoryPlan(tensors: tensors, config: try #require(config), source: source, context: 128, batch: 1,
                                  schemes: WeightScheme.allCases, stored: true)
        #expect(plan.columns.first?.totalWeightBytes == tensors.reduce(0) { $0 + $1.byteCount })
        let dir = TemporaryDirectory()
        for column in plan.columns.dropFirst() {
            var options = ConversionOptions()
            options.scheme = try #require(WeightScheme(rawValue: column.name))
            options.zstdLevel = nil
            _ = try Converter.convert(input: Fixtures.model(name), output: dir.file("m.tlm"), options: options)
            let tlm = try TLMFile(path: dir.file("m.tlm"))
            #expect(column.totalWeightBytes == tlm.tensors.reduce(0) { $0 + $1.rawBytes }, "\(name) \(column.name)")
            // The file adds only its header and the embedded config and tokenizer files to the
            // estimate (each region padded to the alignment but the last, which the header follows).
            let last = try #require(tlm.header.blobs.max { $0.offset < $1.offset })
            let extra = tlm.headerLength + tlm.header.blobs.reduce(0) { $0 + TLMFormat.align($1.storedBytes) }
                - (TLMFormat.align(last.storedBytes) - last.storedBytes)
            #expect(tlm.fileSize == column.fileBytes! + extra, "\(name) \(column.name): \(tlm.fileSize) vs \(column.fileBytes!) + \(extra)")
            unlink(dir.file("m.tlm"))
        }
    }

    @Test func gqaShrinksTheCacheByHeadsOverKeyValueHeads() throws {
        let smol = try ModelConfig.preset("smollm2-135m")
        let plan = try MemoryPlan(tensors: smol.syntheticTensors(), config: smol, source: "smol", context: 2048, batch: 2, schemes: [.q8], stored: false)
        #expect(plan.cacheBytesPerToken == 2 * 30 * 3 * 64 * 4)
        #expect(plan.multiHeadCacheBytesPerToken == 3 * plan.cacheBytesPerToken)
        #expect(plan.cacheBytes == plan.cacheBytesPerToken * 2048 * 2)
    }

    /// Resident memory of `run` on a model large enough that the plan, not the process, dominates.
    @Test func runningTakesWhatThePlanSays() throws {
        let dir = TemporaryDirectory()
        var config = ModelConfig(family: .llama, vocabSize: 32000, hiddenSize: 256, layers: 4, heads: 8, kvHeads: 2,
                                 intermediateSize: 704, contextLength: 1024, tiedEmbeddings: false)
        config.ropeTheta = 10_000
        try SyntheticCheckpoint.write(config: config, directory: dir.path)
        copyFile(Fixtures.model("tiny-llama") + "/tokenizer.json", dir.file("tokenizer.json"))
        _ = try Converter.convert(input: dir.path, output: dir.file("m.tlm"), options: ConversionOptions())
        let prompt = String(repeating: "And God said, Let there be light: and there was light. ", count: 20)
        let ids = try BPETokenizer.load(dir.file("tokenizer.json")).encode(prompt)
        let (tensors, stored, _, _) = try ModelSource.tensors(dir.file("m.tlm"))
        let plan = try MemoryPlan(tensors: tensors, config: try #require(stored), source: "m", context: ids.count + 1, batch: 1,
                                  schemes: [.q8], stored: false)
        let q8 = plan.columns[0]
        // Resident memory at the end of the run (`run --json` reports it; wait4's peak would
        // count this test process too). The process itself (Swift runtime, libraries, the
        // tokenizer) is measured the same way on the smallest fixture and taken off.
        func peak(_ model: String, _ prompt: String) throws -> Int {
            let r = CLI.run(["run", model, "--prompt", prompt, "-n", "1", "--threads", "1", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try JSON.parse(Array(r.stdout.utf8)).object?["resident_bytes"]?.int)
        }
        let process = try peak(Fixtures.model("tiny-genesis"), "And God said"), rss = try peak(dir.file("m.tlm"), prompt)
        let used = rss - process, margin = 8 << 20
        #expect(used >= q8.totalWeightBytes - margin, "\(used) bytes above the process's \(process), below the weights \(q8.totalWeightBytes)")
        #expect(used <= plan.totalBytes(q8) + margin, "\(used) bytes above the process's \(process), above the plan \(plan.totalBytes(q8)) + \(margin)")
    }
}
