// A String compared and hashed by its UTF-8 bytes. Swift's String equality is Unicode
// canonical equivalence, which is both slower (a normalization check per hash) and
// wrong for file formats: two JSON keys or tensor names are the same only when their
// bytes are, as in the reference implementations.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

package struct ByteString: Hashable {
    package let string: String

    package init(_ s: String) {
        var s = s
        s.makeContiguousUTF8()
        string = s
    }

    package func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    package static func == (a: ByteString, b: ByteString) -> Bool {
        var x = a.string, y = b.string
        return x.withUTF8 { p in y.withUTF8 { q in p.count == q.count && (p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0) } }
    }
}
