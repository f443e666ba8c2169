// Perplexity over a text, and how far a second model's next-token distributions are
// from the first's (mean KL divergence, top-1 agreement), as llama.cpp reports them.
//
// Procedure: the text is tokenized whole and cut into consecutive, non-overlapping
// windows of `context` tokens (a last shorter window is kept if it has 2 or more); in
// each window every token but the first is predicted from those before it in the window.
// Perplexity = exp(mean negative log-likelihood over all predicted tokens). Windows are
// 512 tokens unless asked otherwise (or the model's context, when shorter), as
// llama-perplexity's default: a window of the model's whole context costs attention
// quadratic in it and makes figures that no other tool reports.
//
// `.chunks` is llama-perplexity's own method, so the two tools' figures can be set side by
// side: whole chunks of `context` tokens only (the text must hold two), each chunk's first
// token replaced by BOS where the tokenizer adds one, and only the second half of each
// chunk scored (positions context/2 + 1 …< context).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct PerplexityResult: Sendable {
    public static let jsonSchema = "tensorledger.perplexity/1"
    public var tokens: Int
    public var predicted: Int
    public var context: Int
    public var meanNLL: Double
    public var perplexity: Double { exp(meanNLL) }
    /// Against the comparison model, when there is one.
    public var comparison: Comparison?
    public var method: Perplexity.Method = .windows
    public var seconds: Double
    /// Ctrl-C ended the evaluation early: the figures cover the windows done by then.
    public var interrupted = false

    public struct Comparison: Sendable {
        public var perplexity: Double
        /// Mean KL(P_first ‖ P_second) in nats over predicted positions.
        public var meanKL: Double
        public var maxKL: Double
        /// Share of positions where both models' most likely token agree.
        public var top1Agreement: Double
    }

    public var json: JSONValue {
        var o = JSONObject([
            "tokens": .int(tokens), "predicted": .int(predicted), "context": .int(context),
            "mean_nll": .double(meanNLL), "perplexity": .double(perplexity), "seconds": .double(seconds),
            "complete": .bool(!interrupted), "method": .string(method == .windows ? "windows" : "chunks"),
        ])
        if let c = comparison {
            o["compare"] = .object(JSONObject([
                "perplexity": .double(c.perplexity), "mean_kl": .double(c.meanKL), "max_kl": .double(c.maxKL),
                "top1_agreement": .double(c.top1Agreement),
            ]))
        }
        return o.report(schema: Self.jsonSchema)
    }
}

extension PerplexityResult {
    public func textReport(model: String, compare: String?) -> String {
        let how = method == .windows ? "windows of \(context)" : "llama-perplexity's chunks of \(context), their second halves scored"
        var out = ["\(model): perplexity \(formatFixed(perplexity, 3)) over \(formatCount(predicted)) predicted tokens (\(formatCount(tokens)) tokens, \(how)), \(formatFixed(seconds, 2)) s"
                   + (interrupted ? "; interrupted, so over the first windows only" : "")]
        if let c = comparison, let compare {
            out.append("\(compare): perplexity \(formatFixed(c.perplexity, 3)) (\(c.perplexity >= perplexity ? "+" : "")\(formatFixed((c.perplexity / perplexity - 1) * 100, 2))%)")
            out.append("mean KL divergence \(formatFixed(c.meanKL, 6)) nats (max \(formatFixed(c.maxKL, 4))), top-1 agreement \(formatFixed(c.top1Agreement * 100, 2))%")
        }
        return out.joined(separator: "\n")
    }
}

public enum Perplexity {
    /// `progress` is told the tokens done of the total after each window; `interrupted` is
    /// asked before each window, and ends the evaluation with what was measured so far.
    /// The window when none is asked for (at most the models' context).
    public static let defaultWindow = 512

    /// Which positions are scored.
    public enum Method: Sendable, Equatable {
        /// Consecutive windows, every token but each window's first.
        case windows
        /// llama-perplexity's: at most `limit` whole chunks (all when nil), second halves only.
        case chunks(limit: Int?)
    }

    public static func evaluate(_ model: any LanguageModel, ids: [Int], context: Int? = nil, method: Method = .windows,
                                compareWith other: (any LanguageModel)? = nil,
                                progress: ((Int, Int) -> Void)? = nil, interrupted: () -> Bool = { false }) throws -> PerplexityResult {
        let limit = min(model.contextLength, other?.contextLength ?? Int.max)
        if let context, context > limit {
            throw GenerationError.invalidSetting(.context, reason: "\(context) is longer than the \(limit) tokens the model\(other == nil ? "" : "s") can attend to")
        }
        let n = context ?? min(defaultWindow, limit)
        guard n >= 2 else { throw GenerationError.invalidSetting(.context, reason: "must be at least 2") }
        // Distributions over different vocabularies cannot be compared position by position.
        if let other, other.vocabularySize != model.vocabularySize || other.tokenizer.vocabularySize != model.tokenizer.vocabularySize {
            throw GenerationError.cannotRun("the models cannot be compared: \(model.source) has \(model.vocabularySize) logits and \(model.tokenizer.vocabularySize) tokens, "
                + "\(other.source) \(other.vocabularySize) and \(other.tokenizer.vocabularySize)")
        }
        // Same sizes, different tokenizers (a retrained vocabulary) would compare unrelated tokens.
        if let other {
            let probe = "The quick brown fox, 1234 — naïve café.\n\tIt's 99°!"
            let a = model.tokenizer.encode(probe), b = other.tokenizer.encode(probe)
            if a != b {
                throw GenerationError.cannotRun("the models cannot be compared: their tokenizers differ (\"\(probe.prefix(20))…\" is \(a.prefix(6)) in \(model.source), "
                    + "\(b.prefix(6)) in \(other.source))")
            }
        }
        let clock = Stopwatch()
        let state = model.makeState()
        let otherState = other?.makeState()
        var nll = 0.0, otherNLL = 0.0, kl = 0.0, maxKL = 0.0
        var agree = 0, predicted = 0
        var logA = [Double](repeating: 0, count: model.vocabularySize)
        var logB = [Double](repeating: 0, count: model.vocabularySize)
        var stopped = false
        // Each pass: the tokens run, and the first position whose token is scored.
        var passes: [(start: Int, tokens: [Int], scoredFrom: Int)] = []
        switch method {
        case .windows:
            for start in stride(from: 0, to: ids.count, by: n) where ids.count - start >= 2 {
                passes.append((start, Array(ids[start..<min(start + n, ids.count)]), 1))
            }
        case .chunks(let limit):
            guard ids.count >= 2 * n else {
                throw GenerationError.cannotRun("llama-perplexity's method needs at least 2 × \(n) tokens; the text has \(ids.count)")
            }
            let bos = model.tokenizer.prefixIDs.first
            for c in 0..<min(ids.count / n, limit ?? Int.max) {
                var chunk = Array(ids[(c * n)..<((c + 1) * n)])
                if let bos { chunk[0] = bos }
                passes.append((c * n, chunk, n / 2 + 1))
            }
        }
        for (windowStart, window, scoredFrom) in passes {
            if interrupted() { stopped = true; break }
            state.reset()
            try model.forward(window, state: state, allLogits: true)
            if let other, let otherState {
                otherState.reset()
                try other.forward(window, state: otherState, allLogits: true)
            }
            for i in scoredFrom..<window.count {
                // A NaN or infinity among the logits leaves the log-softmax non-finite: only
                // then are the logits searched, and the stage where it began found.
                logSoftmax(state.logits(row: i - 1), into: &logA)
                if !logA[window[i]].isFinite { try model.checkFinite(state.logits(row: i - 1), after: Array(window[..<i])) }
                nll -= logA[window[i]]
                predicted += 1
                if let other, let otherState {
                    logSoftmax(otherState.logits(row: i - 1), into: &logB)
                    if !logB[window[i]].isFinite { try other.checkFinite(otherState.logits(row: i - 1), after: Array(window[..<i])) }
                    otherNLL -= logB[window[i]]
                    var k = 0.0
                    for j in logA.indices { k += exp(logA[j]) * (logA[j] - logB[j]) }
                    kl += k
                    maxKL = max(maxKL, k)
                    if Sampler.argmax(logA) == Sampler.argmax(logB) { agree += 1 }
                }
            }
            progress?(windowStart + window.count, ids.count)
        }
        if stopped && predicted == 0 { throw InterruptedError(progress: "no window of \(n) tokens was finished") }
        guard predicted > 0 else { throw GenerationError.cannotRun("the text is too short: it needs at least 2 tokens") }
        var result = PerplexityResult(tokens: ids.count, predicted: predicted, context: n, meanNLL: nll / Double(predicted), comparison: nil,
                                      method: method, seconds: clock.seconds, interrupted: stopped)
        if other != nil {
            result.comparison = .init(perplexity: exp(otherNLL / Double(predicted)), meanKL: kl / Double(predicted), maxKL: maxKL,
                                      top1Agreement: Double(agree) / Double(predicted))
        }
        return result
    }

    package static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, into out: inout [Double]) {
        let m = Double(logits.max() ?? 0)
        var sum = 0.0
        for (i, l) in logits.enumerated() { out[i] = Double(l) - m; sum += exp(out[i]) }
        let logSum = log(sum)
        for i in out.indices { out[i] -= logSum }
    }
}
