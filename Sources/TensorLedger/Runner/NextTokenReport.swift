// The next-token table of `next`: what the softmax at a temperature makes of the logits.

public struct NextTokenReport: Sendable {
    public static let jsonSchema = "tensorledger.next/1"
    public struct Candidate: Sendable {
        public var id: Int
        public var text: String
        public var logit: Float
        public var probability: Float
    }

    public var promptIDs: [Int]
    public var temperature: Float
    public var vocabularySize: Int
    public var candidates: [Candidate]

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
            "candidates": .array(candidates.map { c in
                .object(JSONObject(["id": .int(c.id), "text": .string(c.text), "logit": .double(Double(c.logit)), "probability": .double(Double(c.probability))]))
            }),
        ]).report(schema: Self.jsonSchema)
    }
}

extension Generator {
    /// The `top` most likely next tokens after `prompt`, at `temperature`.
    public func nextTokenReport(prompt: String, top: Int, temperature: Float) throws -> NextTokenReport {
        let (ids, all) = try nextTokens(prompt: prompt, temperature: temperature)
        return NextTokenReport(promptIDs: ids, temperature: temperature, vocabularySize: all.count,
                               candidates: try all.prefix(top).map {
                                   .init(id: $0.id, text: try model.tokenizer.piece($0.id), logit: $0.logit, probability: $0.probability)
                               })
    }
}
