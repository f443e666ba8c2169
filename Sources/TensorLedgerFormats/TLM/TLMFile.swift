// Reading a .tlm file. Opening checks the preamble, the header checksum and every
// entry's bounds (header only, milliseconds); `verify()` and tensor loads check the
// data checksums too, so a flipped byte anywhere in the file is reported, never used.

import TensorLedgerCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TLMError: TensorLedgerError, Equatable {
    case notTLM(file: String, found: String)
    case newerVersion(file: String, version: UInt32, supported: UInt32)
    case badPreamble(file: String, reason: String)
    case lengthMismatch(file: String, declared: UInt64, actual: Int)
    case headerChecksumMismatch(file: String, offset: UInt64)
    case invalidHeader(file: String, reason: String)
    case entryOutOfBounds(file: String, name: String, reason: String)
    case checksumMismatch(file: String, name: String, offset: Int)
    case nonZeroPadding(file: String, offset: Int)
    case nonFiniteScale(file: String, name: String, scale: Int)
    case decodeFailed(file: String, name: String, reason: String)
    case missingBlob(file: String, name: String)

    public var category: ErrorCategory { .badInput }

    public var description: String {
        switch self {
        case .notTLM(let f, let found): return "\(f): not a .tlm file (\(found))"
        case .newerVersion(let f, let v, let s):
            return "\(f): written in .tlm format version \(v) by a newer TensorLedger; this build reads version \(s)"
        case .badPreamble(let f, let r): return "\(f): damaged preamble (bytes 0-63): \(r)"
        case .lengthMismatch(let f, let declared, let actual):
            return "\(f): the preamble says the file has \(declared) bytes but it has \(actual) (\(actual < Int(clamping: declared) ? "truncated" : "extra bytes at the end"))"
        case .headerChecksumMismatch(let f, let o): return "\(f): header at byte \(o) fails its checksum (the file is damaged)"
        case .invalidHeader(let f, let r): return "\(f): invalid header: \(r)"
        case .entryOutOfBounds(let f, let n, let r): return "\(f): \"\(n)\": \(r)"
        case .checksumMismatch(let f, let n, let o): return "\(f): tensor \"\(n)\" at byte \(o) fails its checksum (the file is damaged)"
        case .nonFiniteScale(let f, let n, let i): return "\(f): tensor \"\(n)\": scale \(i) is not finite (NaN or infinity); its values would be garbage"
        case .nonZeroPadding(let f, let o): return "\(f): padding at byte \(o) is not zero (the file is damaged)"
        case .decodeFailed(let f, let n, let r): return "\(f): \"\(n)\" cannot be decoded: \(r)"
        case .missingBlob(let f, let n): return "\(f): no embedded \(n)"
        }
    }
}

public final class TLMFile: @unchecked Sendable {
    public let path: String
    public let header: TLMHeader
    /// Absolute offset of the data section.
    public let dataOffset: Int
    /// Absolute offset of the JSON header (the data section ends there).
    public let headerOffset: Int
    public let headerLength: Int
    private let file: MappedFile
    private let indexByName: [String: Int]
    /// Set once `verify` has checked every checksum, so loads need not check again.
    private var verified = false

    public var fileSize: Int { file.count }
    public var tensors: [TLMTensorEntry] { header.tensors }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        let (pre, headerBytes) = try TLMFile.readPreamble(bytes, path: path)
        dataOffset = Int(pre.dataOffset)
        headerOffset = Int(pre.headerOffset)
        headerLength = Int(pre.headerLength)
        header = try TLMFile.parseHeader(headerBytes, path: path, dataLength: headerOffset - dataOffset)
        var index: [String: Int] = [:]
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }
        indexByName = index
    }

    // MARK: Structure

    package static func readPreamble(_ bytes: UnsafeRawBufferPointer, path: String) throws(TLMError) -> (TLMPreamble, UnsafeRawBufferPointer) {
        guard bytes.count >= 4, bytes.prefix(4).elementsEqual(TLMFormat.magic) else {
            let found = SniffedFormat.sniff(bytes).map { "it is \($0.rawValue)" }
                ?? (SafetensorsHeader.looksLikeHeader(bytes) ? "it is a safetensors file"
                    : bytes.count < 4 ? "only \(bytes.count) bytes" : "no TLMF magic at byte 0")
            throw .notTLM(file: path, found: found)
        }
        guard bytes.count >= TLMFormat.preambleSize else {
            throw .badPreamble(file: path, reason: "file ends at byte \(bytes.count), inside the 64-byte preamble")
        }
        let pre = TLMPreamble(decoding: bytes)
        let version = pre.version
        let sums = TLMPreamble.checksums(bytes)
        // A newer version may lay the preamble out differently: say so before checksums.
        if version > TLMFormat.version && sums.stored != sums.computed {
            throw .newerVersion(file: path, version: version, supported: TLMFormat.version)
        }
        guard sums.stored == sums.computed else { throw .badPreamble(file: path, reason: "checksum mismatch") }
        if version != TLMFormat.version {
            if version > TLMFormat.version { throw .newerVersion(file: path, version: version, supported: TLMFormat.version) }
            throw .badPreamble(file: path, reason: "version \(version) is not a .tlm version")
        }
        guard pre.fileLength == UInt64(bytes.count) else {
            throw .lengthMismatch(file: path, declared: pre.fileLength, actual: bytes.count)
        }
        guard pre.dataOffset == UInt64(TLMFormat.preambleSize), pre.headerOffset >= pre.dataOffset,
              pre.headerLength <= UInt64(TLMFormat.maxHeaderSize),
              pre.headerOffset.addingReportingOverflow(pre.headerLength) == (pre.fileLength, false) else {
            throw .badPreamble(file: path, reason: "data at \(pre.dataOffset), header at \(pre.headerOffset) (+\(pre.headerLength)) do not fit a \(bytes.count)-byte file")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[Int(pre.headerOffset)..<Int(pre.fileLength)])
        guard TLMFormat.checksum(header) == pre.headerChecksum else {
            throw .headerChecksumMismatch(file: path, offset: pre.headerOffset)
        }
        return (pre, header)
    }

    package static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String, dataLength: Int) throws(TLMError) -> TLMHeader {
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch { throw .invalidHeader(file: path, reason: error.description) }
        guard let o = root.object else { throw .invalidHeader(file: path, reason: "not a JSON object") }
        guard o["schema"]?.string == TLMFormat.headerSchema else {
            throw .invalidHeader(file: path, reason: "schema is not \(TLMFormat.headerSchema)")
        }
        // The model's configuration is the models layer's to read (TLMHeader.modelConfig).
        let config = o["config"] ?? .null
        func str(_ e: JSONObject, _ k: String, _ what: String) throws(TLMError) -> String {
            guard let v = e[k]?.string else { throw .invalidHeader(file: path, reason: "\(what): missing string \"\(k)\"") }
            return v
        }
        func int(_ e: JSONObject, _ k: String, _ what: String) throws(TLMError) -> Int {
            guard case .int(let v)? = e[k], v >= 0 else { throw .invalidHeader(file: path, reason: "\(what): \"\(k)\" must be a non-negative integer") }
            return v
        }
        func hex(_ e: JSONObject, _ what: String) throws(TLMError) -> UInt64 {
            guard let s = e["xxh64"]?.string, s.utf8.count == 16, let v = UInt64(s, radix: 16) else {
                throw .invalidHeader(file: path, reason: "\(what): \"xxh64\" must be 16 hex digits")
            }
            return v
        }
        func encoding(_ e: JSONObject, _ what: String) throws(TLMError) -> TLMEncoding {
            let s = try str(e, "encoding", what)
            guard let enc = TLMEncoding(rawValue: s) else { throw .invalidHeader(file: path, reason: "\(what): unknown encoding \"\(s)\"") }
            return enc
        }

        var regions: [(name: String, range: Range<Int>)] = []
        func checkRegion(_ name: String, offset: Int, stored: Int, raw: Int, encoding: TLMEncoding) throws(TLMError) {
            guard offset % TLMFormat.alignment == 0 else {
                throw .entryOutOfBounds(file: path, name: name, reason: "offset \(offset) is not \(TLMFormat.alignment)-byte aligned")
            }
            let (end, overflow) = offset.addingReportingOverflow(stored)
            guard !overflow, end <= dataLength else {
                throw .entryOutOfBounds(file: path, name: name, reason: "bytes [\(offset), \(offset) + \(stored)) run past the data section (\(dataLength) bytes)")
            }
            if encoding == .raw, stored != raw {
                throw .entryOutOfBounds(file: path, name: name, reason: "stored raw but stored_bytes \(stored) != raw_bytes \(raw)")
            }
            if encoding != .raw, raw > 16 << 30 || stored > Zstd.compressBound(raw) {
                throw .entryOutOfBounds(file: path, name: name, reason: "compressed size \(stored) is impossible for \(raw) raw bytes")
            }
            regions.append((name, offset..<end))
        }

        guard let blobList = o["blobs"]?.array, let tensorList = o["tensors"]?.array else {
            throw .invalidHeader(file: path, reason: "missing \"blobs\" or \"tensors\" array")
        }
        var blobs: [TLMBlob] = []
        for (i, v) in blobList.enumerated() {
            guard let e = v.object else { throw .invalidHeader(file: path, reason: "blobs[\(i)] is not an object") }
            let what = "blobs[\(i)]"
            let b = TLMBlob(name: try str(e, "name", what), offset: try int(e, "offset", what), storedBytes: try int(e, "stored_bytes", what),
                            rawBytes: try int(e, "raw_bytes", what), encoding: try encoding(e, what), checksum: try hex(e, what))
            try checkRegion(b.name, offset: b.offset, stored: b.storedBytes, raw: b.rawBytes, encoding: b.encoding)
            blobs.append(b)
        }
        var tensors: [TLMTensorEntry] = []
        var names = Set<String>()
        for (i, v) in tensorList.enumerated() {
            guard let e = v.object else { throw .invalidHeader(file: path, reason: "tensors[\(i)] is not an object") }
            let name = try str(e, "name", "tensors[\(i)]")
            let what = "tensor \"\(name)\""
            guard names.insert(name).inserted else { throw .invalidHeader(file: path, reason: "\(what) is listed twice") }
            guard let category = LedgerCategory(identifier: try str(e, "category", what)) else {
                throw .invalidHeader(file: path, reason: "\(what): unknown category")
            }
            let schemeName = try str(e, "scheme", what)
            guard let scheme = WeightScheme(rawValue: schemeName) else { throw .invalidHeader(file: path, reason: "\(what): unknown scheme \"\(schemeName)\"") }
            guard let dims = e["shape"]?.array else { throw .invalidHeader(file: path, reason: "\(what): missing shape") }
            var shape: [Int] = []
            for d in dims {
                guard case .int(let n) = d, n >= 0 else { throw .invalidHeader(file: path, reason: "\(what): shape must hold non-negative integers") }
                shape.append(n)
            }
            if scheme == .q8, shape.count != 2 || shape[1] % WeightScheme.blockSize != 0 {
                throw .invalidHeader(file: path, reason: "\(what): q8 needs a 2-D shape with columns a multiple of 32, found \(shape)")
            }
            let sdt = try str(e, "source_dtype", what)
            guard let sourceDType = DType(rawValue: sdt) else { throw .invalidHeader(file: path, reason: "\(what): unknown source_dtype \"\(sdt)\"") }
            let raw = try int(e, "raw_bytes", what)
            guard let expected = TLMTensorEntry.expectedRawBytes(shape: shape, scheme: scheme), expected == raw else {
                throw .entryOutOfBounds(file: path, name: name, reason: "raw_bytes \(raw) does not match shape \(shape) in \(scheme.rawValue)")
            }
            var quality: TLMQuality?
            if let q = e["quality"]?.object, let rmse = q["rmse"]?.number, let maxErr = q["max_abs_error"]?.number {
                quality = TLMQuality(rmse: rmse, maxAbsoluteError: maxErr, snrDecibels: q["snr_db"]?.number)
            }
            let t = TLMTensorEntry(name: name, category: category, scheme: scheme, shape: shape,
                                   transposed: e["transposed"]?.bool ?? false, fusedQKV: e["fused_qkv"]?.bool ?? false, sourceDType: sourceDType,
                                   offset: try int(e, "offset", what), storedBytes: try int(e, "stored_bytes", what), rawBytes: raw,
                                   encoding: try encoding(e, what), checksum: try hex(e, what), quality: quality)
            try checkRegion(name, offset: t.offset, stored: t.storedBytes, raw: t.rawBytes, encoding: t.encoding)
            tensors.append(t)
        }
        regions.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(regions, regions.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw .entryOutOfBounds(file: path, name: b.name, reason: "overlaps \"\(a.name)\"")
        }
        return TLMHeader(createdBy: o["created_by"]?.string ?? "", source: o["source"]?.string ?? "",
                         config: config, tensors: tensors, blobs: blobs)
    }

    // MARK: Data

    public func tensor(named name: String) -> TLMTensorEntry? { indexByName[name].map { header.tensors[$0] } }

    package func stored(offset: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + offset)..<(dataOffset + offset + count)])
    }

    /// Checks one region's checksum.
    package func checkRegion(name: String, offset: Int, stored count: Int, checksum: UInt64) throws(TLMError) {
        guard TLMFormat.checksum(stored(offset: offset, count: count)) == checksum else {
            throw .checksumMismatch(file: path, name: name, offset: dataOffset + offset)
        }
    }

    /// The tensor's raw bytes after checking its checksum: a view into the mapping when
    /// stored raw (no copy), or a decompressed buffer.
    public func rawBytes(of t: TLMTensorEntry) throws(TLMError) -> TensorBytes {
        if !verified { try checkRegion(name: t.name, offset: t.offset, stored: t.storedBytes, checksum: t.checksum) }
        let width = t.scheme.isQuantized ? 1 : t.scheme.storageDType.bitSize / 8
        return try decode(name: t.name, offset: t.offset, stored: t.storedBytes, raw: t.rawBytes, encoding: t.encoding, width: width)
    }

    /// Drops a tensor's pages from this process once it has been read (the page cache keeps them).
    public func releasePages(of t: TLMTensorEntry) { file.release((dataOffset + t.offset)..<(dataOffset + t.offset + t.storedBytes)) }

    public func blob(named name: String) throws(TLMError) -> [UInt8] {
        guard let b = header.blobs.first(where: { $0.name == name }) else { throw .missingBlob(file: path, name: name) }
        try checkRegion(name: b.name, offset: b.offset, stored: b.storedBytes, checksum: b.checksum)
        return try decode(name: b.name, offset: b.offset, stored: b.storedBytes, raw: b.rawBytes, encoding: b.encoding, width: 1).array
    }

    private func decode(name: String, offset: Int, stored count: Int, raw: Int, encoding: TLMEncoding, width: Int) throws(TLMError) -> TensorBytes {
        let src = stored(offset: offset, count: count)
        if encoding == .raw { return TensorBytes(mapped: src, owner: file) }
        guard let out = TensorBytes(capacity: raw) else {
            throw .decodeFailed(file: path, name: name, reason: "cannot allocate \(raw) bytes to decompress it")
        }
        do throws(ZstdError) {
            if encoding == .zstdBytePlanes && width > 1 {
                guard let planes = TensorBytes(capacity: raw) else { throw ZstdError.failed("cannot allocate \(raw) bytes") }
                try Zstd.decompress(src, into: planes.mutableBytes)
                BytePlanes.merge(planes.bytes, width: width, into: out.mutableBytes)
            } else {
                try Zstd.decompress(src, into: out.mutableBytes)
            }
        } catch {
            throw .decodeFailed(file: path, name: name, reason: error.description)
        }
        return out
    }

    /// Checks every checksum and that all padding is zero, on `threads` threads; returns
    /// the bytes checked. Errors name the first damaged region in file order.
    @discardableResult
    public func verify(threads: Int = 2) throws(TLMError) -> Int {
        var regions: [(name: String, offset: Int, count: Int, sum: UInt64)] = header.blobs.map { ($0.name, $0.offset, $0.storedBytes, $0.checksum) }
        regions += header.tensors.map { ($0.name, $0.offset, $0.storedBytes, $0.checksum) }
        regions.sort { $0.offset < $1.offset }
        var cursor = 0
        for r in regions {
            try checkZero(from: cursor, to: r.offset)
            cursor = r.offset + r.count
        }
        try checkZero(from: cursor, to: headerOffset - dataOffset)
        // Split the regions into runs of about equal bytes, one per thread.
        let total = regions.reduce(0) { $0 + $1.count }
        let failures = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(threads, 1))
        failures.initialize(repeating: Int.max)
        defer { failures.deallocate() }
        parallelRows(regions.count, threads: total > 1 << 20 ? threads : 1) { t, range in
            for i in range where TLMFormat.checksum(self.stored(offset: regions[i].offset, count: regions[i].count)) != regions[i].sum {
                failures[t] = i
                return
            }
        }
        if let bad = failures.min(), bad != Int.max {
            throw .checksumMismatch(file: path, name: regions[bad].name, offset: dataOffset + regions[bad].offset)
        }
        // A checksum proves the bytes are the writer's, not that its scales are numbers.
        for t in header.tensors where t.scheme.isQuantized && t.encoding == .raw {
            if let i = ScaleCheck.firstNonFiniteScale(stored(offset: t.offset, count: t.storedBytes), shape: t.shape, scheme: t.scheme) {
                throw .nonFiniteScale(file: path, name: t.name, scale: i)
            }
        }
        verified = true
        return total
    }

    private func checkZero(from: Int, to: Int) throws(TLMError) {
        guard from < to else { return }
        let gap = stored(offset: from, count: to - from)
        if let i = gap.firstIndex(where: { $0 != 0 }) { throw .nonZeroPadding(file: path, offset: dataOffset + from + i) }
    }
}

/// Bytes of a tensor: either borrowed from a file mapping or owned. `bytes` is valid
/// only while this object is alive: keep a reference for as long as it is read.
public final class TensorBytes: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owned: UnsafeMutableRawBufferPointer?
    private let owner: AnyObject?

    package init(mapped: UnsafeRawBufferPointer, owner: AnyObject) {
        bytes = mapped
        owned = nil
        self.owner = owner
    }

    /// An owned buffer; nil when the memory cannot be had (a size from a hostile header
    /// must become an error, not a trap).
    package init?(capacity: Int) {
        var p: UnsafeMutableRawPointer?
        guard capacity >= 0, posix_memalign(&p, 64, max(capacity, 1)) == 0, let p else { return nil }
        let buf = UnsafeMutableRawBufferPointer(start: p, count: max(capacity, 1))
        owned = buf
        bytes = UnsafeRawBufferPointer(rebasing: buf[0..<capacity])
        owner = nil
    }

    package var mutableBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(mutating: bytes) }

    public var isMapped: Bool { owned == nil }

    /// A copy of the bytes.
    public var array: [UInt8] { withExtendedLifetime(self) { Array(bytes) } }

    deinit { if let owned { free(owned.baseAddress) } }
}
