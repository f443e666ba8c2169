// The seam between `convert` and the file it makes. The converter plans every tensor,
// encodes them one after another, and hands each encoded tensor, in plan order, to a
// writer for the output format: TLMWriter (.tlm) or GGUFFileWriter (GGUF). A writer
// owns its file from the first byte to the atomic rename that makes it appear.

/// Where one tensor's bytes went in the file.
import TensorLedgerFormats
import TensorLedgerModels

struct StoredTensor: Sendable {
    /// From the start of the data section.
    var offset: Int
    var storedBytes: Int
    var encoding: TLMEncoding
    /// XXH64 of the stored bytes (0 where the format keeps no checksum).
    var checksum: UInt64
}

protocol ConvertedModelWriter: AnyObject {
    /// Stores the next tensor's encoded bytes. Called in plan order, one call at a time,
    /// possibly from a background thread while the next tensor is encoded.
    func write(_ item: ConversionItem, encoded: UnsafeRawBufferPointer) throws -> StoredTensor

    /// Completes the file once every tensor is stored (for .tlm: the header and its
    /// checksum) and makes it appear under its name; returns its size in bytes.
    func finish(_ items: [ConversionItem]) throws -> Int

    /// Removes everything written so far.
    func abandon()
}

extension ConversionItem {
    /// Notes where the writer put the tensor.
    mutating func record(_ stored: StoredTensor) {
        (storedBytes, encoding, checksum, offset) = (stored.storedBytes, stored.encoding, stored.checksum, stored.offset)
    }
}

/// A writer that keeps nothing: what `Converter.measure` encodes into, for the error alone.
final class DiscardingWriter: ConvertedModelWriter {
    private var offset = 0

    func write(_ item: ConversionItem, encoded: UnsafeRawBufferPointer) throws -> StoredTensor {
        defer { offset += encoded.count }
        return StoredTensor(offset: offset, storedBytes: encoded.count, encoding: .raw, checksum: 0)
    }

    func finish(_ items: [ConversionItem]) throws -> Int { offset }

    func abandon() {}
}
