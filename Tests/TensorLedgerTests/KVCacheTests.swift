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
}
