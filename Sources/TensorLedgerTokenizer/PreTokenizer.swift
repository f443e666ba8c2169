// The pre-tokenizers' splits as linear scanners over Unicode scalars (never Characters:
// grapheme clusters would glue a combining mark to its letter, which the regexes do not).
// Each is equivalent to its pattern with alternatives tried in order at each position,
// as the reference regex engine does:
//   GPT-2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama 3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2    the same with \p{N} (one digit) for \p{N}{1,3}
//   Qwen3.5  Qwen2's with [\p{L}\p{M}]+ for \p{L}+ and \p{M} left out of the symbols
//   Seed-Coder  Qwen2's with no newlines after symbols; Ufakzeka's, Qwen2's without contractions
// and `Digits`, which isolates each digit (or each run of digits), and `Punctuation`, which
// isolates each run of punctuation. Other patterns are in RegexSplits.swift.

import TensorLedgerCore
import TensorLedgerFormats

package enum ScalarClass: UInt8 {
    case letter, number, space, other
}

@inline(__always)
package func scalarClass(_ s: Unicode.Scalar) -> ScalarClass {
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

/// A text's Unicode scalars with their classes, cut into pieces by a scanner.
package struct ScalarScanner {
    package let scalars: [Unicode.Scalar]
    package let classes: [ScalarClass]
    package var pieces: [String] = []
    package var n: Int { scalars.count }

    /// With `marksAsLetters`, combining marks are letters (Qwen3.5's `[\p{L}\p{M}]`).
    package init(_ text: String, marksAsLetters: Bool = false) {
        scalars = Array(text.unicodeScalars)
        classes = scalars.map { s in
            marksAsLetters && s.value >= 0x300 && ScalarSet.marks.contains(s.properties.generalCategory) ? .letter : scalarClass(s)
        }
    }

    /// Scalars [a, b) become a piece.
    package mutating func emit(_ a: Int, _ b: Int) {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[a..<b])
        pieces.append(String(s))
    }

    /// Where the run of class c starting at `start` ends.
    package func run(from start: Int, _ c: ScalarClass) -> Int {
        var j = start
        while j < n && classes[j] == c { j += 1 }
        return j
    }
}

public enum GPT2PreTokenizer {
    /// Splits `text` into pre-tokens, returned as ranges of its Unicode scalars' UTF-8 bytes.
    public static func split(_ text: String) -> [String] {
        var scanner = ScalarScanner(text)
        let (scalars, classes, n) = (scanner.scalars, scanner.classes, scanner.n)
        func emit(_ a: Int, _ b: Int) { scanner.emit(a, b) }
        func run(from start: Int, _ c: ScalarClass) -> Int { scanner.run(from: start, c) }
        var i = 0
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
        return scanner.pieces
    }
}

public enum PreTokenizer {
    /// The pieces of `text` under one split.
    public static func split(_ text: String, _ kind: TokenizerPipeline.Split) -> [String] {
        switch kind {
        case .gpt2: return GPT2PreTokenizer.split(text)
        case .llama3(let maxDigits, let marks, let contractions, let symbolNewlines):
            return llama3(text, maxDigits: maxDigits, marks: marks, contractions: contractions, symbolNewlines: symbolNewlines)
        case .digits(let individual): return digits(text, individual: individual)
        case .punctuation: return runs(text, where: isPunctuation)
        case .regex(let pattern): return RegexSplits.split(text, pattern: pattern)
        }
    }

    /// Punctuation as tokenizers' `Punctuation` has it: `\p{P}`, and all of ASCII's
    /// punctuation and symbols (so $+<=>^~|` too).
    package static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return (0x21...0x7E).contains(s.value) && scalarClass(s) == .other }
        return ScalarSet.punctuation.contains(s.properties.generalCategory)
    }

    package static func llama3(_ text: String, maxDigits: Int, marks: Bool = false, contractions: Bool = true, symbolNewlines: Bool = true) -> [String] {
        var scanner = ScalarScanner(text, marksAsLetters: marks)
        let (scalars, classes, n) = (scanner.scalars, scanner.classes, scanner.n)
        func emit(_ a: Int, _ b: Int) { scanner.emit(a, b) }
        func run(from start: Int, _ c: ScalarClass) -> Int { scanner.run(from: start, c) }
        func isNewline(_ j: Int) -> Bool { scalars[j] == "\r" || scalars[j] == "\n" }
        /// ASCII case folding, and the long s, which folds to s.
        func folded(_ j: Int) -> Unicode.Scalar {
            let v = scalars[j].value
            if v >= 0x41 && v <= 0x5A { return Unicode.Scalar(v + 32)! }
            return v == 0x17F ? "s" : scalars[j]
        }
        var i = 0
        while i < n {
            // Contractions, in any case.
            if contractions && scalars[i] == "'" && i + 1 < n {
                let a = folded(i + 1)
                if a == "s" || a == "t" || a == "m" || a == "d" { emit(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let b = folded(i + 2)
                    if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { emit(i, i + 3); i += 3; continue }
                }
            }
            let c = classes[i]
            // A letter run, with one leading character that is not a newline, letter or digit.
            if c == .letter { let end = run(from: i, .letter); emit(i, end); i = end; continue }
            if c != .number && !isNewline(i) && i + 1 < n && classes[i + 1] == .letter {
                let end = run(from: i + 1, .letter); emit(i, end); i = end; continue
            }
            // Digits, at most maxDigits at a time.
            if c == .number { let end = min(run(from: i, .number), i + maxDigits); emit(i, end); i = end; continue }
            // Symbols, with an optional leading space and the newlines that follow them.
            let start = scalars[i] == " " && i + 1 < n && classes[i + 1] == .other ? i + 1 : i
            if classes[start] == .other {
                var end = run(from: start, .other)
                while symbolNewlines && end < n && isNewline(end) { end += 1 }
                emit(i, end); i = end; continue
            }
            // Whitespace: up to and including its last newline; else the run, less its last
            // character when something other than whitespace follows; never empty.
            let end = run(from: i, .space)
            if let lastNewline = (i..<end).last(where: isNewline) { emit(i, lastNewline + 1); i = lastNewline + 1; continue }
            if end < n && end - i >= 2 { emit(i, end - 1); i = end - 1; continue }
            emit(i, end)
            i = end
        }
        return scanner.pieces
    }

    /// `Digits`: each digit isolated (or each run of digits), the rest left whole.
    package static func digits(_ text: String, individual: Bool) -> [String] {
        runs(text, individual: individual) { scalarClass($0) == .number }
    }

    /// Each run of the scalars `test` accepts a piece (each such scalar, if `individual`), and
    /// each run of the others.
    static func runs(_ text: String, individual: Bool = false, where test: (Unicode.Scalar) -> Bool) -> [String] {
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        var currentPasses = false
        for u in text.unicodeScalars {
            let passes = test(u)
            if !current.isEmpty && (passes != currentPasses || (passes && individual)) {
                pieces.append(String(current))
                current = String.UnicodeScalarView()
            }
            current.append(u)
            currentPasses = passes
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }

    /// Cuts before each occurrence of `marker` (Metaspace's split).
    package static func splitBefore(_ text: String, _ marker: String) -> [String] {
        guard let m = marker.unicodeScalars.first, marker.unicodeScalars.count == 1 else { return [text] }
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u == m && !current.isEmpty {
                pieces.append(String(current))
                current = String.UnicodeScalarView()
            }
            current.append(u)
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }
}
