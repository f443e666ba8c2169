// The next-token table of `next`: what the softmax at a temperature makes of the logits.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public struct NextTokenReport: Sendable {
    public static let jsonSchema = "tensorledger.next/1"
    public var promptIDs: [Int]
    public var temperature: Float
    public var vocabularySize: Int
    public var candidates: [TokenProbability]

    public func textReport() -> String {
        var out = ["After \(promptIDs.count) prompt tokens, at temperature \(formatFixed(Double(temperature > 0 ? temperature : 1), 2)):"]
        var table = TextTable(headers: ["Rank", "Token", "Text", "Logit", "Probability"], alignments: [.right, .right, .left, .right, .right])
        for (i, c) in candidates.enumerated() {
            table.add([String(i + 1), String(c.id), "\"" + TokenizerSource.visible(c.text) + "\"",
                       formatFixed(Double(c.logit), 3), formatFixed(Double(c.probability) * 100, 2) + "%"])
        }
        out.append(table.render())
        let mass = candidates.reduce(Float(0)) { $0 + $1.probability }
        out.append("These \(candidates.count) of \(formatCount(vocabularySize)) tokens hold \(formatFixed(Double(mass) * 100, 1))% of the probability.")
        return out.joined(separator: "\n")
    }

    public var json: JSONValue {
        JSONObject([
            "prompt_ids": .array(promptIDs.map { .int($0) }),
            "temperature": .double(Double(temperature)),
            "candidates": .array(candidates.map(\.json)),
        ]).report(schema: Self.jsonSchema)
    }
}

extension Generator {
    /// The `top` most likely next tokens after `prompt`, at `temperature`.
    public func nextTokenReport(prompt: String, top: Int, temperature: Float) throws -> NextTokenReport {
        let ids = try promptIDs(prompt)
        state.reset()
        try model.forward(ids, state: state)
        try model.checkFinite(decodableLogits, after: ids)
        return NextTokenReport(promptIDs: ids, temperature: temperature, vocabularySize: decodableLogits.count,
                               candidates: try candidates(top: top, temperature: temperature))
    }
}
