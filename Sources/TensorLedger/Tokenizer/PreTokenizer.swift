// GPT-2's pre-tokenization split as a linear scanner over Unicode scalars (never
// Characters: grapheme clusters would glue a combining mark to its letter, which the
// regex does not). It is equivalent to the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with alternatives tried in order at each position, as the reference regex engine does.

enum ScalarClass: UInt8 {
    case letter, number, space, other
}

@inline(__always)
func scalarClass(_ s: Unicode.Scalar) -> ScalarClass {
    let v = s.value
    if v < 0x80 {
        switch v {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .space
        default: return .other
        }
    }
    if s.properties.isWhitespace { return .space }
    switch s.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .other
    }
}

public enum GPT2PreTokenizer {
    /// Splits `text` into pre-tokens, returned as ranges of its Unicode scalars' UTF-8 bytes.
    public static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map(scalarClass)
        var pieces: [String] = []
        var i = 0
        let n = scalars.count
        func emit(_ a: Int, _ b: Int) {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[a..<b])
            pieces.append(String(s))
        }
        func run(from start: Int, _ c: ScalarClass) -> Int {
            var j = start
            while j < n && classes[j] == c { j += 1 }
            return j
        }
        while i < n {
            let c = scalars[i]
            // Contractions, lower case only, as in the pattern.
            if c == "'" && i + 1 < n {
                let a = scalars[i + 1]
                if a == "s" || a == "t" || a == "m" || a == "d" { emit(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let b = scalars[i + 2]
                    if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { emit(i, i + 3); i += 3; continue }
                }
            }
            // An optional single space before a letter, number or symbol run.
            var start = i
            if c == " " && i + 1 < n && classes[i + 1] != .space { start = i + 1 }
            let k = classes[start]
            if k != .space {
                let end = run(from: start, k)
                emit(i, end)
                i = end
                continue
            }
            // Whitespace: the run, less its last scalar when something other than
            // whitespace follows (so that space can lead the next piece), never empty.
            let end = run(from: i, .space)
            if end < n && end - i >= 2 {
                emit(i, end - 1)
                i = end - 1
            } else {
                emit(i, end)
                i = end
            }
        }
        return pieces
    }
}
