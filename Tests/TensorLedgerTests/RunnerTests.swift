// The GPT-2 runner against Hugging Face transformers' logits for the demo model
// (recorded by fixtures/scripts/train_tiny_gpt2.py), in every storage scheme.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized) struct RunnerTests {
    static var reference: JSONObject { get throws { try referenceStorage.get() } }
    private static let referenceStorage = Loaded { try Fixtures.json("expected/tiny-genesis.json") }
    static let modelDir = Fixtures.model("tiny-genesis")
    static var f32: any LanguageModel { get throws { try f32Storage.get() } }
    private static let f32Storage = Loaded { try ModelLoader.load(modelDir, cache: .f32) }

    /// The demo model converted to `scheme`, loaded from a .tlm file.
    static func converted(_ scheme: WeightScheme) throws -> any LanguageModel {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = scheme
        _ = try Converter.convert(input: modelDir, output: dir.file("m.tlm"), options: options)
        return try ModelLoader.load(dir.file("m.tlm"), cache: .f32)
    }

    static func maxDifference(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    static let prompts = ["one-token", "mid", "context-limit"]

    @Test(arguments: prompts)
    func f32LogitsMatchTransformers(_ prompt: String) throws {
        let ref = try Self.reference[prompt]!.object!
        let ids = ref["input_ids"]!.array!.map { $0.int! }
        let expected = ref["last_logits"]!.array!.map { $0.number! }
        for model in [try Self.f32, try Self.converted(.f32)] {
            let logits = try Generator(model: model).lastLogits(ids)
            let diff = Self.maxDifference(logits, expected)
            #expect(diff < 1e-4, "\(prompt) from \(model.source): max |Δlogit| = \(diff)")
        }
    }

    @Test func greedyContinuationMatchesTransformers() throws {
        let greedy = try Self.reference["greedy"]!.object!
        let prompt = greedy["prompt_ids"]!.array!.map { $0.int! }
        let expected = greedy["generated_ids"]!.array!.map { $0.int! }
        let margins = greedy["top2_margins"]!.array!.map { $0.number! }
        // Compare up to the first step where the reference's top two are within 1e-3.
        let reliable = margins.firstIndex { $0 < 1e-3 } ?? expected.count
        var options = SamplingOptions()
        options.temperature = 0
        let result = try Generator(model: Self.f32).generate(promptIDs: prompt, maxTokens: expected.count, sampling: options)
        #expect(Array(result.generatedIDs.prefix(reliable)) == Array(expected.prefix(reliable)), "first \(reliable) greedy tokens")
        #expect(reliable >= 32)
    }

    @Test(arguments: [(WeightScheme.f16, 0.02), (.bf16, 0.15), (.q8, 0.5), (.q8Row, 0.75)])
    func reducedPrecisionStaysClose(_ scheme: WeightScheme, _ tolerance: Double) throws {
        let model = try Self.converted(scheme)
        for prompt in Self.prompts {
            let ref = try Self.reference[prompt]!.object!
            let logits = try Generator(model: model).lastLogits(ref["input_ids"]!.array!.map { $0.int! })
            let diff = Self.maxDifference(logits, ref["last_logits"]!.array!.map { $0.number! })
            #expect(diff < tolerance, "\(scheme.rawValue) \(prompt): max |Δlogit| = \(diff)")
        }
    }

    @Test func f32PerplexityMatchesTransformers() throws {
        let ids = try TokenizerTests.goldens["held_out_ids"]!.array!.map { $0.int! }
        let ppl = try Self.reference["perplexity"]!.object!
        let result = try Perplexity.evaluate(Self.f32, ids: ids, context: ppl["n_ctx"]!.int!)
        #expect(result.predicted == ppl["tokens_predicted"]!.int!)
        let expected = ppl["value"]!.number!
        #expect(abs(result.perplexity - expected) / expected < 1e-4, "perplexity \(result.perplexity) vs \(expected)")
    }

    @Test func q8PerplexityWithinOnePercentOfF32() throws {
        let ids = try TokenizerTests.goldens["held_out_ids"]!.array!.map { $0.int! }
        let result = try Perplexity.evaluate(Self.f32, ids: ids, compareWith: try Self.converted(.q8))
        let c = try #require(result.comparison)
        #expect(abs(c.perplexity - result.perplexity) / result.perplexity < 0.01, "q8 \(c.perplexity) vs f32 \(result.perplexity), mean KL \(c.meanKL)")
        #expect(c.meanKL < 0.01 && c.top1Agreement > 0.95, "KL \(c.meanKL), top-1 \(c.top1Agreement)")
    }

    @Test func sameSeedSameText() throws {
        let g = Generator(model: try Self.f32)
        var o = SamplingOptions()
        o.seed = 7
        let a = try g.generate(prompt: "And Joseph", maxTokens: 24, sampling: o)
        let b = try g.generate(prompt: "And Joseph", maxTokens: 24, sampling: o)
        #expect(a.generatedIDs == b.generatedIDs)
        o.seed = 8
        let c = try g.generate(prompt: "And Joseph", maxTokens: 24, sampling: o)
        #expect(c.generatedIDs != a.generatedIDs)
        // top-k 1 is greedy whatever the temperature.
        o.topK = 1
        o.temperature = 1.5
        var greedy = SamplingOptions()
        greedy.temperature = 0
        #expect(try g.generate(prompt: "And Joseph", maxTokens: 12, sampling: o).generatedIDs
                == (try g.generate(prompt: "And Joseph", maxTokens: 12, sampling: greedy).generatedIDs))
    }

    @Test func contextLimitsAreEnforced() throws {
        let g = Generator(model: try Self.f32)
        let n = try Self.f32.contextLength
        #expect(throws: GenerationError.contextFull(contextLength: n, needed: n + 1)) {
            try g.generate(promptIDs: [Int](repeating: 5, count: n + 1), maxTokens: 1, sampling: SamplingOptions())
        }
        let r = try g.generate(promptIDs: [Int](repeating: 5, count: n - 3), maxTokens: 50, sampling: SamplingOptions())
        #expect(r.stopReason == .contextFull && r.generatedIDs.count == 4)
        #expect(throws: GenerationError.emptyPrompt) { try g.generate(prompt: "", maxTokens: 1, sampling: SamplingOptions()) }
    }

    @Test func invalidSamplingOptionsAreRefused() {
        var o = SamplingOptions()
        o.temperature = -1
        #expect(throws: GenerationError.self) { try o.validate() }
        o = SamplingOptions()
        o.topP = 0
        #expect(throws: GenerationError.self) { try o.validate() }
        o.topP = 1.5
        #expect(throws: GenerationError.self) { try o.validate() }
        o = SamplingOptions()
        o.minP = 1.5
        #expect(throws: GenerationError.self) { try o.validate() }
    }

    @Test func minPDropsWhatIsLessLikelyThanItsShareOfTheTop() {
        // Relative to the most likely token: 1, 0.4, 0.9 and 0.2.
        let logits: [Float] = [0, -0.9162907, -0.1053605, -1.6094379]  // ln 1, ln 0.4, ln 0.9, ln 0.2
        var seen: Set<Int> = []
        for seed in 0..<200 {
            var o = SamplingOptions()
            o.temperature = 1
            o.topP = 1
            o.minP = 0.5
            o.seed = UInt64(seed)
            var s = Sampler(o)
            seen.insert(logits.withUnsafeBufferPointer { s.sample($0, history: []) })
        }
        #expect(seen == [0, 2])
        var off = SamplingOptions()
        off.temperature = 1
        off.topP = 1
        var all: Set<Int> = []
        for seed in 0..<400 {
            off.seed = UInt64(seed)
            var s = Sampler(off)
            all.insert(logits.withUnsafeBufferPointer { s.sample($0, history: []) })
        }
        #expect(all == [0, 1, 2, 3])
    }

    @Test func runReportCarriesWhatMakesSpeedsComparable() throws {
        let model = try Self.converted(.q8)
        var greedy = SamplingOptions()
        greedy.temperature = 0
        let result = try Generator(model: model).generate(prompt: "And God said", maxTokens: 4, sampling: greedy)
        let report = RunReport(result: result, loadSeconds: 0.25, model: model, seed: 9)
        let o = try #require(report.json.object)
        #expect(o["seed"]?.int == 9 && report.statsLine.hasSuffix("stopped: the token count asked for; seed 9"))
        #expect(o["generated_ids"]?.array?.count == 4)
        #expect(o["weight_scheme"]?.string == "q8")
        #expect(o["weight_bytes_per_token"]?.int == model.weightBytesPerToken)
        // What a q8 token reads, worked out independently: every block matrix and the unembedding,
        // int8 values plus one f16 scale per 32 (each region aligned to 64 bytes).
        let c = model.config
        let q8 = { (rows: Int, cols: Int) in TLMFormat.align(rows * cols) + TLMFormat.align(rows * cols / 32 * 2) }
        let perLayer = q8(3 * c.hiddenSize, c.hiddenSize) + q8(c.hiddenSize, c.hiddenSize) + 2 * q8(c.intermediateSize, c.hiddenSize)
        #expect(model.weightBytesPerToken == c.layers * perLayer + q8(c.vocabSize, c.hiddenSize))
        #expect(o["threads"]?.int == model.threads)
        #expect(report.statsLine.hasPrefix("load 250.0 ms; prompt \(result.promptIDs.count) tokens, "))
        #expect(o["kernels"]?.string == model.kernels.name)
        #expect(report.statsLine.contains("(q8, \(model.threads) thread\(model.threads == 1 ? "" : "s"), \(model.kernels.name))"))
    }

    @Test func headsThatDoNotDivideTheWidthAreRefused() throws {
        let dir = TemporaryDirectory()
        for name in ["model.safetensors", "tokenizer.json"] { copyFile(Self.modelDir + "/" + name, dir.file(name)) }
        let config = String(decoding: try readWholeFile(Self.modelDir + "/config.json"), as: UTF8.self)
        writeFile(dir.file("config.json"), Array(config.replacing("\"n_head\": 4", with: "\"n_head\": 3").utf8))
        #expect(throws: ModelLoadError.headsDoNotDivideWidth(source: dir.file("model.safetensors"), width: 128, heads: 3)) {
            _ = try ModelLoader.load(dir.path)
        }
    }

    /// GPT-2 options that change the attention's arithmetic, and fewer layers than the
    /// weights hold, are refused by the runner and by convert, naming the field.
    @Test func configurationsTheRunnerWouldGetWrongAreRefused() throws {
        let cases = [("\"scale_attn_weights\": true", "\"scale_attn_weights\": false", "scale_attn_weights false"),
                     ("\"scale_attn_by_inverse_layer_idx\": false", "\"scale_attn_by_inverse_layer_idx\": true", "scale_attn_by_inverse_layer_idx true"),
                     ("\"n_layer\": 4", "\"n_layer\": 3", "the weights hold 4 layers but the configuration says 3")]
        for (from, to, says) in cases {
            let dir = TemporaryDirectory()
            for name in ["model.safetensors", "tokenizer.json"] { copyFile(Self.modelDir + "/" + name, dir.file(name)) }
            let config = String(decoding: try readWholeFile(Self.modelDir + "/config.json"), as: UTF8.self)
            #expect(config.contains(from))
            writeFile(dir.file("config.json"), Array(config.replacing(from, with: to).utf8))
            #expect { _ = try ModelLoader.load(dir.path) } throws: { "\($0)".contains(says) }
            #expect { _ = try Converter.convert(input: dir.path, output: dir.file("m.tlm"), options: ConversionOptions()) } throws: { "\($0)".contains(says) }
            #expect(!fileExists(dir.file("m.tlm")))
            // The ledger still counts what the file holds.
            #expect(throws: Never.self) { _ = try ModelSource.ledger(dir.path) }
        }
    }

    @Test func batchedPromptEqualsTokenByToken() throws {
        let ids = try Self.reference["mid"]!.object!["input_ids"]!.array!.map { $0.int! }
        // The batch goes through the GEMM kernel (and attention over many queries); one token
        // at a time goes through the matrix-vector kernels.
        for model in [try Self.f32, try Self.converted(.f16), try Self.converted(.bf16), try Self.converted(.q8), try Self.converted(.q8Row)] {
            let batched = try Generator(model: model).lastLogits(ids)
            let state = model.makeState()
            for id in ids { try model.forward([id], state: state) }
            let stepwise = Array(state.logits())
            let diff = zip(batched, stepwise).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4, "\(model.weightFormat): \(diff)")
        }
    }
}

@Suite struct TraceTests {
    @Test func traceFollowsTheDataThroughEveryBlock() throws {
        let model = try RunnerTests.f32
        let trace = try Generator(model: model).trace(prompt: "And God said", top: 3)
        // Embedding, attention and MLP per block, final LayerNorm, unembedding.
        #expect(trace.stages.count == 1 + 2 * model.config.layers + 2)
        #expect(trace.tokens.map(\.id) == model.tokenizer.encode("And God said"))
        #expect(trace.stages.last?.shapeOut == [model.vocabularySize])
        // The table's top candidate is what greedy decoding picks.
        var greedy = SamplingOptions()
        greedy.temperature = 0
        let next = try Generator(model: model).generate(prompt: "And God said", maxTokens: 1, sampling: greedy)
        #expect(trace.top.first?.id == next.generatedIDs.first)
        #expect(trace.top.count == 3)
        #expect(zip(trace.top, trace.top.dropFirst()).allSatisfy { $0.probability >= $1.probability })
    }
}

@Suite struct WorkerPoolTests {
    /// Models (and their worker threads) come and go: workers must stop cleanly even when
    /// the pool goes away right after its last job, while they are still spinning.
    @Test func poolsComeAndGoWithoutTrouble() throws {
        var first: [Float]?
        for _ in 0..<25 {
            let model = try ModelLoader.load(Fixtures.model("tiny-genesis"), threads: 2)
            let logits = try Generator(model: model).lastLogits([370, 316])
            // Every model, its workers started and stopped anew, computes the same.
            if let first { #expect(logits == first) } else { first = logits }
        }
        #expect(first?.count == 512)
    }

    /// A product's rows go to the threads in chunks that cover them once, in order, each a
    /// whole number of 32-row tiles but the last, shrinking toward the end: the last few are
    /// one tile, so the threads finish within a tile of each other.
    @Test(arguments: [1, 31, 32, 576, 2048, 8192, 128_256])
    func guidedChunksCoverTheRowsAndShrink(_ rows: Int) {
        for threads in [2, 3, 8] {
            let chunks = CPUBackend.GuidedChunks(rows: rows, threads: threads)
            let ranges: [Range<Int>] = (0..<chunks.count).map { chunks.rows($0) }
            let label = "\(rows) rows, \(threads) threads: \(ranges)"
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == rows, "\(label)")
            for (a, b) in zip(ranges, ranges.dropFirst()) {
                #expect(a.upperBound == b.lowerBound && (a.count >= b.count || b.upperBound == rows), "\(label)")
            }
            #expect(ranges.dropLast().allSatisfy { $0.count % 32 == 0 && $0.lowerBound % 32 == 0 }, "\(label)")
            #expect(chunks.count <= 24 * threads, "\(label)")
            if rows >= 64 * threads { #expect(ranges.suffix(2).allSatisfy { $0.count <= 32 }) }
        }
    }

    @Test func everyChunkRunsExactlyOnce() {
        let pool = WorkerPool(threads: 2)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 1000)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        for round in 1...200 {
            let n = round % 37 + 2
            pool.run(chunks: n) { c in counts[c] += 1 }
            for c in 0..<n { #expect(counts[c] == 1, "round \(round) chunk \(c)") }
            for c in 0..<n { counts[c] = 0 }
        }
    }
}

/// The sampler draws from the distribution the options define: the right tokens kept,
/// each as often as its probability says (8,000 seeded draws; 4.5 standard deviations).
@Suite struct SamplerDistributionTests {
    static func frequencies(_ logits: [Float], _ options: SamplingOptions, draws: Int = 8000) -> [Int: Double] {
        var counts: [Int: Int] = [:]
        for seed in 0..<8 {
            var o = options
            o.seed = UInt64(seed)
            var sampler = Sampler(o)
            for _ in 0..<(draws / 8) { counts[logits.withUnsafeBufferPointer { sampler.sample($0, history: []) }, default: 0] += 1 }
        }
        return counts.mapValues { Double($0) / Double(draws) }
    }

    static func options(temperature: Float = 1, topK: Int = 0, topP: Float = 1) -> SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        return o
    }

    static func expectClose(_ seen: [Int: Double], _ expected: [Int: Double]) {
        #expect(Set(seen.keys) == Set(expected.keys), "kept \(seen.keys.sorted()), expected \(expected.keys.sorted())")
        for (id, p) in expected {
            let tolerance = 4.5 * (p * (1 - p) / 8000).squareRoot() + 1e-9
            #expect(abs((seen[id] ?? 0) - p) <= tolerance, "token \(id): \(seen[id] ?? 0) vs \(p)")
        }
    }

    @Test func frequenciesMatchTheSoftmax() {
        let p: [Double] = [0.1, 0.2, 0.3, 0.4]
        let logits = p.map { Float(log($0)) }
        Self.expectClose(Self.frequencies(logits, Self.options()), [0: 0.1, 1: 0.2, 2: 0.3, 3: 0.4])
        // Temperature 0.5 squares the probabilities before normalizing.
        let squared = p.map { $0 * $0 }, total = squared.reduce(0, +)
        Self.expectClose(Self.frequencies(logits, Self.options(temperature: 0.5)),
                         Dictionary(uniqueKeysWithValues: squared.enumerated().map { ($0.offset, $0.element / total) }))
    }

    @Test func topKKeepsExactlyTheKMostLikely() {
        let logits: [Float] = [0, 4, 1, 3, 2]
        let e4 = exp(4.0), e3 = exp(3.0)
        Self.expectClose(Self.frequencies(logits, Self.options(topK: 2)), [1: e4 / (e4 + e3), 3: e3 / (e4 + e3)])
    }

    @Test func topPKeepsTheSmallestPrefixReachingP() {
        let logits = [0.5, 0.3, 0.15, 0.05].map { Float(log($0)) }
        // 0.5 < 0.75 ≤ 0.5 + 0.3: the first two, renormalized.
        Self.expectClose(Self.frequencies(logits, Self.options(topP: 0.75)), [0: 0.625, 1: 0.375])
        // 0.5 reaches 0.5: the first alone.
        Self.expectClose(Self.frequencies(logits, Self.options(topP: 0.5)), [0: 1])
    }
}
