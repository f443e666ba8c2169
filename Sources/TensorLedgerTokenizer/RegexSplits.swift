// The `Split` regexes of llama.cpp's other pre-tokenizer names (llama-vocab.cpp: Falcon's
// digit triples, DeepSeek's LLM, Coder and V3 lists, Tekken's and GPT-4o's words by letter
// case, BLOOM's words, Laguna's lines), each a scanner keyed by its pattern text
// as tokenizer.json and llama.cpp spell it. Each is applied as `Split(…, isolated)`: every
// match a piece, the text between matches kept as one piece. A pattern not here is refused
// by name, never approximated.

/// Scalars in a regex class: some general categories, and ranges written as in the pattern.
struct ScalarSet: Sendable {
    var categories: Set<Unicode.GeneralCategory> = []
    var ranges: [ClosedRange<UInt32>] = []

    static let letters: Set<Unicode.GeneralCategory> = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
    static let marks: Set<Unicode.GeneralCategory> = [.nonspacingMark, .spacingMark, .enclosingMark]
    static let numbers: Set<Unicode.GeneralCategory> = [.decimalNumber, .letterNumber, .otherNumber]
    static let punctuation: Set<Unicode.GeneralCategory> = [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                                                            .initialPunctuation, .finalPunctuation, .otherPunctuation]
    static let symbols: Set<Unicode.GeneralCategory> = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]

    /// A bracket class's body of single scalars and `a-b` ranges, no escapes.
    init(ranges body: String) {
        let s = Array(body.unicodeScalars)
        var i = 0
        while i < s.count {
            if i + 2 < s.count && s[i + 1] == "-" { ranges.append(s[i].value...s[i + 2].value); i += 3 } else { ranges.append(s[i].value...s[i].value); i += 1 }
        }
    }

    init(_ categories: Set<Unicode.GeneralCategory>) { self.categories = categories }

    func contains(_ u: Unicode.Scalar) -> Bool {
        if ranges.contains(where: { $0.contains(u.value) }) { return true }
        return !categories.isEmpty && categories.contains(u.properties.generalCategory)
    }
}

enum RegexSplits {
    /// Where a match starting at `i` ends, or nil; given the fragment's scalars.
    typealias Matcher = @Sendable (_ s: [Unicode.Scalar], _ i: Int) -> Int?

    /// `[set]+` (at most `max` scalars), with `\s?` before it when `optionalSpace`.
    static func run(_ set: ScalarSet, optionalSpace: Bool = false, max: Int = .max) -> Matcher {
        { s, i in
            var start = i
            if optionalSpace && scalarClass(s[i]) == .space && i + 1 < s.count && set.contains(s[i + 1]) { start = i + 1 }
            var end = start
            while end < s.count && end - start < max && set.contains(s[end]) { end += 1 }
            return end > start ? end : nil
        }
    }

    /// DeepSeek LLM's and Coder's CJK (and more: U+0800–U+4E00 is most of the BMP's scripts).
    static let deepseekCJK = "[一-龥ࠀ-一가-퟿]+"

    /// The patterns with a scanner, by their text.
    static let matchers: [String: Matcher] = [
        "[0-9][0-9][0-9]": { s, i in i + 3 <= s.count && s[i..<i + 3].allSatisfy { (0x30...0x39).contains($0.value) } ? i + 3 : nil },
        "[\r\n]": { s, i in s[i] == "\r" || s[i] == "\n" ? i + 1 : nil },
        #"\s?\p{L}+"#: run(ScalarSet(ScalarSet.letters), optionalSpace: true),
        #"\s?\p{P}+"#: run(ScalarSet(ScalarSet.punctuation), optionalSpace: true),
        deepseekCJK: run(ScalarSet(ranges: String(deepseekCJK.dropFirst().dropLast(2)))),
        #"\p{N}"#: run(ScalarSet(ScalarSet.numbers), max: 1),
        #"\p{N}+"#: run(ScalarSet(ScalarSet.numbers)),
        #"\p{N}{1,3}"#: run(ScalarSet(ScalarSet.numbers), max: 3),
        deepseekLetters: run(ScalarSet(ranges: String(deepseekLetters.dropFirst(4).dropLast(2))), optionalSpace: true),
        #"\s?[!-/:-~！-／：-～‘-‟　-。]+"#: run(ScalarSet(ranges: "!-/:-~！-／：-～‘-‟　-。"), optionalSpace: true),
        #"\s+$"#: { s, i in
            // Only at the start of the fragment's trailing whitespace (a scan that gives up at
            // the first non-space, so a fragment costs linear time overall).
            guard scalarClass(s[i]) == .space, i == 0 || scalarClass(s[i - 1]) != .space else { return nil }
            var end = i
            while end < s.count && scalarClass(s[end]) == .space { end += 1 }
            return end == s.count ? end : nil
        },
        "[一-龥぀-ゟ゠-ヿ]+": run(ScalarSet(ranges: "一-龥぀-ゟ゠-ヿ")),
        deepseekV3Words: deepseekV3,
        tekkenWords: { s, i in o200k(s, i, maxDigits: 1, contractions: false) },
        gpt4oWords: { s, i in o200k(s, i, maxDigits: 3, contractions: true) },
        // Lines, and the runs of newlines between them (Laguna's first split).
        #"[^\n]+|[\n]+"#: { s, i in
            let newline = s[i] == "\n"
            var end = i
            while end < s.count && (s[end] == "\n") == newline { end += 1 }
            return end
        },
        bloomWords: { s, i in
            func word(_ j: Int) -> Bool { j < s.count && scalarClass(s[j]) != .space && !bloomStops.contains(s[j]) }
            let start = s[i] == " " && word(i + 1) ? i + 1 : i
            guard word(start) else { return nil }
            var end = start
            while word(end) { end += 1 }
            return end
        },
    ]

    /// BLOOM's (and Poro's, GPT3-Finnish's, Viking's): an optional space and a run of anything
    /// but whitespace, brackets, "|" and sentence punctuation.
    static let bloomWords = #" ?[^(\s|.,!?…。，、।۔،)]+"#
    /// What ends a BLOOM word besides whitespace: the pattern's class, less its `\s`.
    static let bloomStops = ScalarSet(ranges: String(bloomWords.dropFirst(4).dropLast(2)).replacing(#"\s"#, with: ""))

    /// DeepSeek LLM's cased letters (llama-vocab.cpp's second regex for deepseek-llm); the
    /// escaped scalars are the ones Unicode normalization would replace in a source file.
    static let deepseekLetters = #"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\#u{1F7D}ᾀ-ᾴᾶ-ᾼ\#u{1FBE}ῂ-ῄῆ-ῌῐ-\#u{1FD3}ῖ-\#u{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\#u{2126}ℨ\#u{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"#

    /// DeepSeek V3's word regex, whose alternatives `deepseekV3` tries in order.
    static let deepseekV3Words = ##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##

    static func deepseekV3(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        let n = s.count
        func category(_ j: Int) -> Unicode.GeneralCategory { s[j].properties.generalCategory }
        func isWord(_ j: Int) -> Bool { ScalarSet.letters.contains(category(j)) || ScalarSet.marks.contains(category(j)) }
        func isSymbol(_ j: Int) -> Bool { ScalarSet.punctuation.contains(category(j)) || ScalarSet.symbols.contains(category(j)) }
        func isASCIILetter(_ j: Int) -> Bool { let v = s[j].value | 0x20; return v >= 0x61 && v <= 0x7A }
        func isNewline(_ j: Int) -> Bool { s[j] == "\r" || s[j] == "\n" }
        func isSpace(_ j: Int) -> Bool { scalarClass(s[j]) == .space }
        // An ASCII punctuation mark and the ASCII letters after it.
        if s[i].value < 0x80 && scalarClass(s[i]) == .other && s[i].value > 0x20 && s[i].value < 0x7F && i + 1 < n && isASCIILetter(i + 1) {
            var end = i + 1
            while end < n && isASCIILetter(end) { end += 1 }
            return end
        }
        // A run of letters and marks, after at most one scalar that is none of newline, letter, punctuation or symbol.
        let first = !isNewline(i) && !ScalarSet.letters.contains(category(i)) && !isSymbol(i) && i + 1 < n && isWord(i + 1) ? i + 1 : i
        if isWord(first) {
            var end = first
            while end < n && isWord(end) { end += 1 }
            return end
        }
        // Punctuation and symbols, after an optional space, with the newlines after them.
        let start = s[i] == " " && i + 1 < n && isSymbol(i + 1) ? i + 1 : i
        if isSymbol(start) {
            var end = start
            while end < n && isSymbol(end) { end += 1 }
            while end < n && isNewline(end) { end += 1 }
            return end
        }
        // Whitespace: through its last newline; else the run, less its last scalar when a
        // non-space follows.
        guard isSpace(i) else { return nil }
        var end = i
        while end < n && isSpace(end) { end += 1 }
        if let lastNewline = (i..<end).last(where: isNewline) { return lastNewline + 1 }
        return end < n && end - i >= 2 ? end - 1 : end
    }

    /// Mistral's Tekken regex (tokenizer.json's, as llama-vocab.cpp quotes it): words by case.
    static let tekkenWords = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// GPT-4o's (o200k; gpt-oss, Llama 4, MiniMax M2): Tekken's with contractions after a
    /// word and digits in threes.
    static let gpt4oWords = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The o200k family's alternatives in order at `i`: a word (upper-case-ish scalars then
    /// lower-case-ish ones, or the reverse, after at most one scalar that is no newline, letter
    /// or digit; with a contraction after it), digits, symbols with newlines and slashes after
    /// them, then whitespace as Llama 3's.
    static func o200k(_ s: [Unicode.Scalar], _ i: Int, maxDigits: Int, contractions: Bool) -> Int? {
        let n = s.count
        func category(_ j: Int) -> Unicode.GeneralCategory { s[j].properties.generalCategory }
        func isUpper(_ j: Int) -> Bool {  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
            let c = category(j)
            return c == .uppercaseLetter || c == .titlecaseLetter || c == .modifierLetter || c == .otherLetter || ScalarSet.marks.contains(c)
        }
        func isLower(_ j: Int) -> Bool {  // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
            let c = category(j)
            return c == .lowercaseLetter || c == .modifierLetter || c == .otherLetter || ScalarSet.marks.contains(c)
        }
        func isNewline(_ j: Int) -> Bool { s[j] == "\r" || s[j] == "\n" }
        func isSpace(_ j: Int) -> Bool { scalarClass(s[j]) == .space }
        func run(_ from: Int, _ test: (Int) -> Bool) -> Int {
            var end = from
            while end < n && test(end) { end += 1 }
            return end
        }
        func withContraction(_ end: Int) -> Int {
            guard contractions, end + 1 < n, s[end] == "'" else { return end }
            func folded(_ j: Int) -> Unicode.Scalar {
                let v = s[j].value
                if v >= 0x41 && v <= 0x5A { return Unicode.Scalar(v + 32)! }
                return v == 0x17F ? "s" : s[j]
            }
            let a = folded(end + 1)
            if a == "s" || a == "t" || a == "m" || a == "d" { return end + 2 }
            if end + 2 < n {
                let b = folded(end + 2)
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return end + 3 }
            }
            return end
        }
        // The optional leading scalar, taken first and given back if the word fails.
        let c = category(i)
        let canLead = !isNewline(i) && !ScalarSet.letters.contains(c) && !ScalarSet.numbers.contains(c)
        let starts = canLead && i + 1 < n ? [i + 1, i] : [i]
        // Upper* lower+: the upper run given back one scalar at a time until a lower one follows.
        for j in starts {
            let u = run(j, isUpper)
            if let p = ([u] + (j..<u).reversed()).first(where: { $0 < n && isLower($0) }) { return withContraction(run(p, isLower)) }
        }
        // Upper+ lower*.
        for j in starts {
            let u = run(j, isUpper)
            if u > j { return withContraction(run(u, isLower)) }
        }
        if ScalarSet.numbers.contains(c) { return min(run(i) { ScalarSet.numbers.contains(category($0)) }, i + maxDigits) }
        func isSymbol(_ j: Int) -> Bool { !isSpace(j) && !ScalarSet.letters.contains(category(j)) && !ScalarSet.numbers.contains(category(j)) }
        let start = s[i] == " " && i + 1 < n && isSymbol(i + 1) ? i + 1 : i
        if isSymbol(start) { return run(run(start, isSymbol)) { isNewline($0) || s[$0] == "/" } }
        guard isSpace(i) else { return nil }
        let end = run(i, isSpace)
        if let lastNewline = (i..<end).last(where: isNewline) { return lastNewline + 1 }
        return end < n && end - i >= 2 ? end - 1 : end
    }

    /// `text` cut by the pattern's matches, as tokenizers' `Split(pattern, isolated)` does.
    static func split(_ text: String, pattern: String) -> [String] {
        guard let match = matchers[pattern] else { return [text] }
        let s = Array(text.unicodeScalars)
        var pieces: [String] = []
        func piece(_ a: Int, _ b: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[a..<b])
            pieces.append(String(v))
        }
        var gapStart = 0, i = 0
        while i < s.count {
            guard let end = match(s, i) else { i += 1; continue }
            if gapStart < i { piece(gapStart, i) }
            piece(i, end)
            gapStart = end
            i = end
        }
        if gapStart < s.count { piece(gapStart, s.count) }
        return pieces
    }
}
