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
                                  schemes: MemoryPlan.defaultSchemes, stored: true)
        #expect(plan.columns.first?.totalWeightBytes == tensors.reduce(0) { $0 + $1.byteCount })
        let dir = TemporaryDirectory()
        for column in plan.columns.dropFirst() {
            var options = ConversionOptions()
            options.weights = try #require(WeightChoice(name: column.name))
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

    /// Keys and values of 30 layers × 3 key/value heads × 64, in f16 (the default) or f32.
    @Test func gqaShrinksTheCacheByHeadsOverKeyValueHeads() throws {
        let smol = try ModelConfig.preset("smollm2-135m")
        for (cache, bytes) in [(KVCacheType.f16, 2), (.f32, 4)] {
            let plan = try MemoryPlan(tensors: smol.syntheticTensors(), config: smol, source: "smol", context: 2048, batch: 2, schemes: [.scheme(.q8)],
                                      stored: false, cache: cache)
            #expect(plan.cacheBytesPerToken == 2 * 30 * 3 * 64 * bytes)
            #expect(plan.multiHeadCacheBytesPerToken == 3 * plan.cacheBytesPerToken)
            #expect(plan.cacheBytes == plan.cacheBytesPerToken * 2048 * 2)
        }
    }

    /// What `plan` says a prompt's state takes is what the runner allocates, to the byte:
    /// the cache of keys, values and scores, the activation buffers, the int8 activations
    /// and the logits. (The weights are the file's, checked above.)
    @Test(arguments: ["tiny-llama", "tiny-genesis", "tiny-qwen3-moe"], KVCacheType.allCases)
    func theStateTakesWhatThePlanSays(_ name: String, _ cache: KVCacheType) throws {
        let (tensors, stored, _, _) = try ModelSource.tensors(Fixtures.model(name))
        // A q8 cache needs heads of whole 32-value blocks (tiny-genesis's); the others refuse it.
        guard cache.fits(headDim: StateShape(config: try #require(stored), contextLength: 1).headDim) else {
            #expect(throws: GenerationError.self) { try ModelLoader.load(Fixtures.model(name), threads: 1, cache: cache) }
            return
        }
        let model = try ModelLoader.load(Fixtures.model(name), threads: 1, cache: cache)
        for tokens in [64, 100] {
            let ids = (0..<tokens).map { $0 % model.vocabularySize }
            let state = model.makeState()
            try model.forward(ids, state: state)
            let plan = try MemoryPlan(tensors: tensors, config: try #require(stored), source: name, context: tokens, batch: 1,
                                      schemes: [.scheme(.q8)], stored: false, cache: cache)
            #expect(state.cacheBytes == plan.cacheBytes, "\(name), \(tokens) tokens")
            #expect(state.allocatedBytes == plan.cacheBytes + plan.scratchBytes, "\(name), \(tokens) tokens")
        }
    }
}
