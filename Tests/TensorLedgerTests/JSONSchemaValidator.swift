// Checks a JSON value against the subset of JSON Schema (draft 2020-12) that the files
// in docs/schemas use: type, properties, required, additionalProperties, items, enum,
// const, minimum, maximum, anyOf, oneOf, $ref into $defs. Any other keyword is reported,
// so a schema cannot rely on something this validator silently ignores.

import TensorLedger

struct JSONSchemaValidator {
    let root: JSONObject
    static let known: Set<String> = [
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties", "required", "additionalProperties",
        "items", "enum", "const", "minimum", "maximum", "anyOf", "oneOf",
    ]

    /// Every place where `value` breaks the schema, as "path: what"; empty when it conforms.
    func failures(_ value: JSONValue) -> [String] {
        var out: [String] = []
        check(value, against: .object(root), at: "$", into: &out)
        return out
    }

    private func check(_ value: JSONValue, against schemaValue: JSONValue, at path: String, into out: inout [String]) {
        if case .bool(let b) = schemaValue {
            if !b { out.append("\(path): not allowed") }
            return
        }
        guard let schema = schemaValue.object else { out.append("\(path): the schema is not an object"); return }
        for key in schema.keys where !Self.known.contains(key) { out.append("\(path): unknown schema keyword \(key)") }
        if let ref = schema["$ref"]?.string {
            let name = ref.replacing("#/$defs/", with: "")
            guard let target = root["$defs"]?.object?[name] else { out.append("\(path): no definition \(ref)"); return }
            check(value, against: target, at: path, into: &out)
        }
        if let type = schema["type"] {
            let allowed = type.array?.compactMap(\.string) ?? type.string.map { [$0] } ?? []
            if !allowed.contains(where: { Self.matches(value, type: $0) }) {
                out.append("\(path): \(value.kindDescription), expected \(allowed.joined(separator: " or "))")
                return
            }
        }
        if let options = schema["enum"]?.array, !options.contains(value) { out.append("\(path): \(value) is not one of \(options)") }
        if let c = schema["const"], c != value { out.append("\(path): \(value) is not \(c)") }
        if let minimum = schema["minimum"]?.number, let n = value.number, n < minimum { out.append("\(path): \(n) is below \(minimum)") }
        if let maximum = schema["maximum"]?.number, let n = value.number, n > maximum { out.append("\(path): \(n) is above \(maximum)") }
        if let anyOf = schema["anyOf"]?.array {
            if !anyOf.contains(where: { var f: [String] = []; check(value, against: $0, at: path, into: &f); return f.isEmpty }) {
                out.append("\(path): matches none of anyOf")
            }
        }
        if let oneOf = schema["oneOf"]?.array {
            let n = oneOf.filter { var f: [String] = []; check(value, against: $0, at: path, into: &f); return f.isEmpty }.count
            if n != 1 { out.append("\(path): matches \(n) of oneOf, not exactly one") }
        }
        if let object = value.object {
            let properties = schema["properties"]?.object ?? JSONObject()
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
                out.append("\(path): missing \"\(name)\"")
            }
            for (name, v) in object.pairs {
                if let p = properties[name] {
                    check(v, against: p, at: "\(path).\(name)", into: &out)
                } else if let extra = schema["additionalProperties"] {
                    check(v, against: extra, at: "\(path).\(name)", into: &out)
                }
            }
        }
        if let array = value.array, let items = schema["items"] {
            for (i, v) in array.enumerated() { check(v, against: items, at: "\(path)[\(i)]", into: &out) }
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double),
             ("string", .string), ("array", .array), ("object", .object): return true
        default: return false
        }
    }
}
