// Finding the tokenizer of whatever a user names: a .tlm file carries its own, a model
// directory holds tokenizer.json, or the path is a tokenizer.json or GGUF vocabulary.

public enum TokenizerSource {
    public static func load(_ path: String) throws -> BPETokenizer {
        if ModelSource.isTLM(path) { return try BPETokenizer.embedded(in: try TLMFile(path: path)) }
        if pathKind(path) == .directory {
            let p = joinPath(path, "tokenizer.json")
            guard pathKind(p) == .file else { throw FileError.notFound(path: p) }
            return try BPETokenizer.load(p)
        }
        return try BPETokenizer.load(path)
    }

    /// A token's text with whitespace and control characters made visible.
    public static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case " ": out += "␣"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
