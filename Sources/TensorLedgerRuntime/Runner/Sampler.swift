// From logits to the next token: repeat penalty, temperature, top-k, top-p, min-p, then a
// draw from the softmax (or the argmax at temperature 0). Seeded, so the same seed
// gives the same text.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct SamplingOptions: Sendable, Equatable {
    /// 0 is greedy (argmax).
    public var temperature: Float = 0.8
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int = 40
    /// Keep the smallest set of tokens whose probability adds up to p (1: all).
    public var topP: Float = 0.95
    /// Drop tokens less likely than this fraction of the most likely one (0: off).
    public var minP: Float = 0
    /// Divide positive logits (multiply negative ones) of tokens already seen by this (1: off).
    public var repeatPenalty: Float = 1
    /// The same seed gives the same text; a caller without one draws one (`randomSeed`)
    /// and says which, so the run can be repeated.
    public var seed: UInt64 = 42
    /// Tokens never picked (llama.cpp's --ignore-eos: the end-of-text tokens), so generation
    /// runs to its length.
    public var banned: Set<Int> = []

    public init() {}

    /// A seed from the system's random source.
    public static func randomSeed() -> UInt64 {
        var g = SystemRandomNumberGenerator()
        return g.next() >> 11  // below 2^53: any JSON reader keeps it exact
    }

    public func validate() throws(GenerationError) {
        guard temperature.isFinite, temperature >= 0 else { throw .invalidSetting(.temperature, reason: "must be 0 (greedy) or positive, not \(temperature)") }
        guard topK >= 0 else { throw .invalidSetting(.topK, reason: "must be 0 (off) or positive, not \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalidSetting(.topP, reason: "must be in (0, 1], not \(topP)") }
        guard minP >= 0, minP <= 1 else { throw .invalidSetting(.minP, reason: "must be in [0, 1], not \(minP)") }
        guard repeatPenalty.isFinite, repeatPenalty > 0 else { throw .invalidSetting(.repeatPenalty, reason: "must be positive, not \(repeatPenalty)") }
    }
}

/// One candidate of the next-token distribution (with its text once decoded for a report).
public struct TokenProbability: Sendable {
    public var id: Int
    public var logit: Float
    public var probability: Float
    public var text = ""

    public var json: JSONValue {
        .object(JSONObject(["id": .int(id), "text": .string(text), "logit": .double(Double(logit)), "probability": .double(Double(probability))]))
    }
}

public struct Sampler {
    public let options: SamplingOptions
    private var rng: SplitMix64
    // Reused from token to token: the loop allocates nothing once they have grown.
    private var work: [Float] = []
    private var order: [Int] = []
    private var probabilities: [Float] = []

    public init(_ options: SamplingOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
    }

    /// Softmax of logits / T over all tokens, most likely first (T = 0 is taken as 1).
    public static func distribution(_ logits: UnsafeBufferPointer<Float>, temperature: Float) -> [TokenProbability] {
        let t = temperature > 0 ? temperature : 1
        let maxLogit = logits.max() ?? 0
        var sum: Double = 0
        var out = logits.enumerated().map { i, l in
            let e = exp(Double((l - maxLogit) / t))
            sum += e
            return TokenProbability(id: i, logit: l, probability: Float(e))
        }
        for i in out.indices { out[i].probability = Float(Double(out[i].probability) / sum) }
        out.sort { $0.probability > $1.probability || ($0.probability == $1.probability && $0.id < $1.id) }
        return out
    }

    /// The position of the largest value (the first of equals); 0 for an empty list.
    public static func argmax<C: RandomAccessCollection>(_ values: C) -> Int where C.Element: Comparable, C.Index == Int {
        var best = values.startIndex
        for i in values.indices where values[i] > values[best] { best = i }
        return best - values.startIndex
    }

    /// Picks the next token. `history` is what the repeat penalty looks at.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int]) -> Int {
        // Take the buffer out while using it, so writing to it never copies it.
        var l: [Float] = []
        swap(&l, &work)
        defer { swap(&l, &work) }
        if l.count != logits.count { l = [Float](repeating: 0, count: logits.count) }
        l.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: logits) }
        for id in options.banned where id < l.count { l[id] = -.infinity }
        if options.repeatPenalty != 1 {
            for id in Set(history) where id < l.count {
                l[id] = l[id] > 0 ? l[id] / options.repeatPenalty : l[id] * options.repeatPenalty
            }
        }
        if options.temperature == 0 { return Self.argmax(l) }
        // Candidates: the top k by logit, most likely first (one pass and a small sorted
        // buffer, not a sort of the whole vocabulary).
        let k = options.topK > 0 ? min(options.topK, l.count) : l.count
        if k < l.count {
            order.removeAll(keepingCapacity: true)
            for i in l.indices where order.count < k || l[i] > l[order[order.count - 1]] {
                var j = order.count < k ? order.count : k - 1
                if order.count < k { order.append(i) }
                while j > 0 && l[order[j - 1]] < l[i] { order[j] = order[j - 1]; j -= 1 }
                order[j] = i
            }
        } else {
            order = Array(l.indices)
            order.sort { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) }
        }
        let maxLogit = l[order[0]]
        probabilities.removeAll(keepingCapacity: true)
        for i in order { probabilities.append(expf((l[i] - maxLogit) / options.temperature)) }
        let total = probabilities.reduce(0, +)
        // Top-p: the smallest prefix whose mass reaches p.
        var keep = probabilities.count
        if options.topP < 1 {
            var mass: Float = 0
            for (i, p) in probabilities.enumerated() {
                mass += p / total
                if mass >= options.topP { keep = i + 1; break }
            }
        }
        // Min-p: the weights are relative to the most likely token's, which is 1.
        while keep > 1 && probabilities[keep - 1] < options.minP { keep -= 1 }
        let kept = probabilities[0..<keep].reduce(0, +)
        let r = Float(Double(rng.next() >> 11) / Double(1 << 53)) * kept
        var acc: Float = 0
        for i in 0..<keep {
            acc += probabilities[i]
            if r < acc { return order[i] }
        }
        return order[keep - 1]
    }
}
