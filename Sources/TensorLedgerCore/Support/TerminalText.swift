// Text from files shown on a terminal: a tensor name, a metadata value or a token can hold
// an escape sequence that moves the cursor or recolours the screen, a newline that prints
// a line the file chose, or a bidirectional override that shows text in another order.
// Every such character is written as an escape instead (JSON output escapes by itself).

/// `s` with its control characters escaped: C0 (newline included, unless `keepingLines`
/// and then only newline and tab are kept), DEL, C1 (U+0080–U+009F, U+009B CSI among
/// them) and the bidirectional controls (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069).
public func terminalSafe(_ s: String, keepingLines: Bool = false) -> String {
    guard s.unicodeScalars.contains(where: isTerminalControl) else { return s }
    var out = String.UnicodeScalarView()
    for u in s.unicodeScalars {
        if !isTerminalControl(u) || (keepingLines && (u == "\n" || u == "\t")) {
            out.append(u)
            continue
        }
        let escaped: String
        switch u {
        case "\n": escaped = "\\n"
        case "\t": escaped = "\\t"
        case "\r": escaped = "\\r"
        default: escaped = "\\u{\(String(u.value, radix: 16))}"
        }
        out.append(contentsOf: escaped.unicodeScalars)
    }
    return String(out)
}

package func isTerminalControl(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0..<0x20, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
    default: return false
    }
}
