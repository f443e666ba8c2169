// The KV cache's element type: f16 (the default) keeps keys and values at half the bytes.
// Rounding keys and values to f16 (a relative 2^-12) moves the logits of the fixtures by
// 1e-3 to 1.3e-2 (the most for Gemma, whose logits are the largest); what it does to the
// next-token distribution is nil: KL below 1e-5 and the same top token, on every family.

import Testing
@testable import TensorLedger

@Suite struct KVCacheTests {
    static let models = ["tiny-genesis", "tiny-llama", "tiny-qwen2"] + FamilyTests.models

    @Test(arguments: models)
    func anF16CacheLeavesTheDistributionAsItWas(_ name: String) throws {
        let f32 = try ModelLoader.load(Fixtures.model(name), cache: .f32), f16 = try ModelLoader.load(Fixtures.model(name))
        #expect(f16.cache == .f16)
        // A prompt long enough to reach past the sliding windows of the Gemma fixtures, then
        // decoding a token at a time from the cache.
        let text = "In the beginning God created the heaven and the earth. And the earth was without form, and void."
        let ids = Array(try f32.tokenizer.encode(text).prefix(min(f32.contextLength, 64)))
        let a = f32.makeState(), b = f16.makeState()
        #expect(b.cacheBytes * 2 == a.cacheBytes || a.cacheBytes == 0)
        var worst: Float = 0, worstKL = 0.0
        for chunk in [Array(ids.prefix(ids.count - 4))] + ids.suffix(4).map({ [$0] }) {
            try f32.forward(chunk, state: a)
            try f16.forward(chunk, state: b)
            let p = Array(a.logits()), q = Array(b.logits())
            worst = max(worst, zip(p, q).map { abs($0 - $1) }.max()!)
            worstKL = max(worstKL, FamilyTests.kl(p.map(Double.init), q.map(Double.init)))
            #expect(p.indices.max { p[$0] < p[$1] } == q.indices.max { q[$0] < q[$1] }, "\(name): top token")
        }
        #expect(worstKL < 1e-5 && worst < 0.02, "\(name): max |Δlogit| \(worst), KL \(worstKL)")
        #expect(worst > 0, "\(name): the f16 cache changed nothing; is it used?")
        #expect(b.cacheBytes * 2 == a.cacheBytes)
    }

    /// Past 256 cached positions, the query heads that share a key/value head attend
    /// together, reading the cache once; a prompt's tokens attend eight at a time. Both
    /// give what the other gives: the last token's logits from the whole prompt at once,
    /// and from decoding it a token at a time (Gemma 3's with sliding-window layers).
    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-gemma3"])
    func longCachesAttendAsShortOnesDo(_ name: String) throws {
        let dir = TemporaryDirectory()
        var config = try Fixtures.json("models/\(name)/config.json")
        config["max_position_embeddings"] = .int(400)
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        try makeDirectory(dir.file("m"))
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("m"), seed: 9,
                                      tokenizer: TokenizerSource.load(Fixtures.model(name) + "/tokenizer.json"))
        // Two threads: the shared reads are taken when the key/value heads are at least as many.
        let model = try ModelLoader.load(dir.file("m"), threads: 2, cache: .f32)
        #expect(model.config.heads > model.config.kvHeads)
        let ids = (0..<300).map { ($0 * 37 + 11) % 200 + 3 }
        let whole = try Generator(model: model).lastLogits(ids)
        let state = model.makeState()
        try model.forward(Array(ids.prefix(250)), state: state)
        for id in ids.dropFirst(250) { try model.forward([id], state: state) }
        let stepped = Array(state.logits())
        let worst = zip(whole, stepped).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "\(name): max |Δlogit| \(worst)")
    }
}
