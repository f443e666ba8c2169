// Writing GGUF version 3: the header (metadata keys with their value types, then the
// tensor table with offsets) is laid out first, since every tensor's size is known from
// its shape and type; the tensors then follow in order, each at a multiple of 32 bytes.

/// A tensor as the GGUF table lists it.
import TensorLedgerCore

public struct GGUFTensorPlan: Sendable {
    public var name: String
    /// ggml's order: the row length first.
    public var dimensions: [Int]
    public var type: GGMLType
    public var offset = 0
    public var byteCount: Int { dimensions.reduce(1, *) / type.blockLayout.size * type.blockLayout.bytes }

    package init(name: String, dimensions: [Int], type: GGMLType) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
    }
}

public enum GGUFWriter {
    /// ggml's default; a file that says otherwise in general.alignment is laid out by it.
    public static let alignment = 32

    package static func alignment(of metadata: [(String, GGUFValue)]) -> Int {
        if case .u32(let a)? = metadata.first(where: { $0.0 == GGUFKey.alignment })?.1, a > 0, a & (a - 1) == 0 { return Int(a) }
        return alignment
    }

    /// Gives each tensor its offset in the data section (in order, each aligned); returns
    /// the section's size.
    public static func layOut(_ tensors: inout [GGUFTensorPlan], alignment: Int = alignment) -> Int {
        var offset = 0
        for i in tensors.indices {
            tensors[i].offset = offset
            offset = (offset + tensors[i].byteCount + alignment - 1) / alignment * alignment
        }
        return tensors.last.map { $0.offset + $0.byteCount } ?? 0
    }

    /// The header bytes for tensors already laid out, padded to where the data section starts.
    public static func header(metadata: [(String, GGUFValue)], tensors: [GGUFTensorPlan]) -> [UInt8] {
        var out = GGUFFile.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += s.utf8 }
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata { string(key); out += value.bytes }
        for t in tensors {
            string(t.name)
            u32(UInt32(t.dimensions.count))
            t.dimensions.forEach { u64(UInt64($0)) }
            u32(t.type.rawValue)
            u64(UInt64(t.offset))
        }
        let alignment = alignment(of: metadata)
        while out.count % alignment != 0 { out.append(0) }
        return out
    }
}
