// The KV cache's element type: f16 (the default) keeps keys and values at half the bytes.
// Rounding keys and values to f16 (a relative 2^-12) moves the logits of the fixtures by
// 1e-3 to 1.3e-2 (the most for Gemma, whose logits are the largest); what it does to the
// next-token distribution is nil: KL below 1e-5 and the same top token, on every family.
// q8 (ggml's Q8_0 blocks) keeps them at 53% of f16's bytes, for heads of whole blocks.

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
        let ids = Array(f32.tokenizer.encode(text).prefix(min(f32.contextLength, 64)))
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

    /// Decoding, the query heads that share a key/value head attend together, reading the
    /// cache once; a prompt's tokens attend in blocks. Both
    /// give what the other gives: the last token's logits from the whole prompt at once,
    /// and from decoding it a token at a time (Gemma 3's with sliding-window layers).
    /// With three key/value heads on two threads, each head's positions are split in two
    /// and the halves merged (tiny-llama reshaped to 6 query heads of 128 over 3, wide enough
    /// for the threads to take the work).
    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-gemma3", "tiny-llama-3kv"])
    func longCachesAttendAsShortOnesDo(_ variant: String) throws {
        let dir = TemporaryDirectory()
        let name = variant.replacing("-3kv", with: "")
        var config = try Fixtures.json("models/\(name)/config.json")
        config["max_position_embeddings"] = .int(400)
        if variant.hasSuffix("-3kv") { (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) = (.int(6), .int(3), .int(128)) }
        writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
        try makeDirectory(dir.file("m"))
        try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("m"), seed: 9,
                                      tokenizer: TokenizerSource.load(Fixtures.model(name) + "/tokenizer.json"))
        // Two threads: tiny-gemma3's one key/value head, and the 3kv variant's three, are split
        // by positions.
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

    /// A q8 cache (Q8_0 blocks of 32, 34 bytes: 53% of f16's) on the models whose heads are
    /// whole blocks: the demo GPT-2 (heads of 32) and a Llama with heads of 32 and 64 (one
    /// with sliding-window layers). The next-token distribution stays as it was (KL from
    /// the f32 cache's), a prompt at once gives what decoding it a token at a time gives,
    /// the bytes are what plan says, and a model whose heads are not whole blocks is refused.
    @Test(arguments: ["tiny-genesis", "llama-32", "llama-64"])
    func aQ8CacheStaysClose(_ name: String) throws {
        let dir = TemporaryDirectory()
        var path = Fixtures.model(name)
        if name.hasPrefix("llama-") {
            var config = try Fixtures.json("models/tiny-llama/config.json")
            let dh = name == "llama-32" ? 32 : 64
            (config["head_dim"], config["max_position_embeddings"], config["sliding_window"]) = (.int(dh), .int(400), dh == 64 ? .int(40) : .null)
            if dh == 64 { config["model_type"] = .string("mistral"); config["use_sliding_window"] = .bool(true) }
            writeFile(dir.file("config.json"), Array(JSONValue.object(config).serialized().utf8))
            try makeDirectory(dir.file("m"))
            try SyntheticCheckpoint.write(config: ModelConfig.load(dir.file("config.json")), directory: dir.file("m"), seed: 5,
                                          tokenizer: TokenizerSource.load(Fixtures.model("tiny-llama") + "/tokenizer.json"))
            path = dir.file("m")
        }
        let f32 = try ModelLoader.load(path, threads: 2, cache: .f32), q8 = try ModelLoader.load(path, threads: 2, cache: .q8)
        let ids = (0..<min(f32.contextLength, 120)).map { ($0 * 37 + 11) % 200 + 3 }
        let a = f32.makeState(), b = q8.makeState()
        var worstKL = 0.0
        for chunk in [Array(ids.prefix(ids.count - 4))] + ids.suffix(4).map({ [$0] }) {
            try f32.forward(chunk, state: a)
            try q8.forward(chunk, state: b)
            let p = Array(a.logits()).map(Double.init), q = Array(b.logits()).map(Double.init)
            worstKL = max(worstKL, FamilyTests.kl(p, q))
        }
        #expect(worstKL < 1e-3 && worstKL > 0, "\(name): KL \(worstKL)")
        let shape = StateShape(config: q8.config, contextLength: b.cacheCapacity, cache: .q8)
        #expect(b.cacheBytes == shape.cacheBytesPerToken * b.cacheCapacity && b.cacheBytes * 64 == a.cacheBytes * 17)
        let whole = try Generator(model: q8).lastLogits(ids)
        let stepped = Array(b.logits())
        #expect(zip(whole, stepped).map { abs($0 - $1) }.max()! < 1e-4, "\(name): the prompt at once and token by token differ")
    }

    @Test func aQ8CacheNeedsHeadsOfWholeBlocks() throws {
        let r = CLI.run(["run", Fixtures.model("tiny-llama"), "-p", "And", "-n", "1", "--kv", "q8"])
        #expect(r.isOneErrorLine(containing: "--kv q8 keeps keys and values in blocks of 32, and this model's heads are 16 wide: use f16 or f32", status: 2), "\(r.stderr)")
        let plan = try JSON.parse(Array(CLI.run(["plan", Fixtures.model("tiny-genesis"), "--kv", "q8", "--json"]).stdout.utf8)).object!
        #expect(plan["kv_cache_bytes_per_token"]?.int == 2 * 4 * 4 * 34)  // 4 layers of 4 heads of 32: one block each
        let ppl = CLI.run(["perplexity", Fixtures.model("tiny-genesis"), "-f", Fixtures.path("text/genesis.txt"), "--context", "64", "--chunks", "4",
                           "--kv", "q8", "--compare", Fixtures.model("tiny-genesis"), "--compare-kv", "f32", "--json"])
        let figures = try JSON.parse(Array(ppl.stdout.utf8)).object
        #expect(ppl.status == 0, "\(ppl.stderr)")
        let kl = figures?["compare"]?.object?["mean_kl"]?.number ?? figures?["mean_kl"]?.number
        #expect(kl.map { $0 > 0 && $0 < 1e-3 } == true, "\(ppl.stdout.prefix(400))")
    }
}
