// GPT-2's byte-to-character table: each of the 256 byte values maps to one printable
// Unicode character (printable Latin-1 bytes map to themselves, the rest to U+0100 and
// up), so token strings never hold spaces or control characters (" " becomes "Ġ").

import TensorLedgerCore
import TensorLedgerFormats

public enum ByteLevel {
    package static let table: [Unicode.Scalar] = {
        var printable = Set<Int>()
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] { for b in r { printable.insert(b) } }
        var out = [Unicode.Scalar](repeating: " ", count: 256)
        var next = 256
        for b in 0..<256 {
            if printable.contains(b) {
                out[b] = Unicode.Scalar(UInt32(b))!
            } else {
                out[b] = Unicode.Scalar(UInt32(next))!
                next += 1
            }
        }
        return out
    }()

    package static let inverse: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, s) in table.enumerated() { d[s.value] = UInt8(b) }
        return d
    }()

    public static func character(for byte: UInt8) -> Character { Character(table[Int(byte)]) }

    /// The byte-level form of a string's UTF-8 bytes.
    public static func encode(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for b in s.utf8 { out.append(table[Int(b)]) }
        return String(out)
    }

    /// The bytes a byte-level token string stands for; characters outside the table
    /// (never in a well-formed vocabulary) contribute their own UTF-8.
    public static func decode(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = inverse[s.value] { out.append(b) } else { out += Array(String(s).utf8) }
        }
        return out
    }
}
