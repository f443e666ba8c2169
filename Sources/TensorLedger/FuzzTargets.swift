// Entry points that feed arbitrary bytes to every parser of untrusted input. The fuzzer
// (Sources/tensorledger-fuzz, scripts/fuzz.sh) calls them with libFuzzer's inputs; the
// tests replay the corpus and every input that once crashed through them. Each must
// return or throw a TensorLedgerError for any input: never trap, never hang.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum FuzzTarget: String, CaseIterable, Sendable {
    case safetensors
    case index
    case tlm
    /// The .tlm header parser alone: whole files rarely get past the checksums.
    case tlmHeader = "tlm-header"
    case tokenizerJSON = "tokenizer-json"
    case tokenizerCompact = "tokenizer-bpe"
    case tokenize
    case gguf
    case json
    /// Fuzzed header JSON inside a .tlm file forged around it: correct preamble, and every
    /// checksum recomputed, so the loader and the runner see what a forger could make.
    case tlmForged = "tlm-forged"
    /// Small inputs that claim large sizes: a kind byte, a repeat count, and a payload
    /// repeated into a file of up to 48 MiB (JSON, a GGUF array, a safetensors header),
    /// for the bugs that need size and that 64 KB inputs cannot reach.
    case sized
    /// Standard input as chat reads it: lines, each bounded.
    case lines

    /// Runs the target on `bytes` and says what became of them: accepted when every step
    /// succeeded, else the first refusal. Temporary files, where a parser reads from disk,
    /// go to `scratch`.
    @discardableResult
    public func run(_ bytes: [UInt8], scratch: String) -> FuzzVerdict {
        let v = FuzzVerdict.Recorder()
        switch self {
        case .json:
            // Any JSON may be a config.json: parsed, checked, and laid out when it is small.
            if let value = v.attempt({ try JSON.parse(bytes) }), let config = v.attempt({ try ModelConfig.parse(value, file: "fuzz") }),
               config.layers <= 64 {
                _ = Ledger(tensors: config.syntheticTensors(), config: config, source: "fuzz").textReport()
            }
        case .safetensors:
            if let h = v.attempt({ try bytes.withUnsafeBytes { try SafetensorsHeader.parse($0, file: "fuzz") } }), h.tensors.count < 64 {
                // Reading what a valid header describes must be safe too.
                let path = joinPath(scratch, "fuzz.safetensors")
                if v.attempt({ try FuzzTarget.write(bytes, to: path) }) != nil, let file = v.attempt({ try SafetensorsFile(path: path) }) {
                    for t in file.tensors where t.dtype.isConvertibleToFloat && t.elementCount < 1 << 16 {
                        _ = v.attempt { try floatValues(file.data(for: t), info: t) }
                    }
                    _ = Ledger(tensors: file.tensors, config: nil, source: "fuzz").textReport()
                }
            }
        case .index:
            // An index beside a valid shard: the consistency checks, not the shard, are under test.
            let path = joinPath(scratch, Checkpoint.indexFileName)
            if v.attempt({ try FuzzTarget.write(bytes, to: path) }) != nil { _ = v.attempt { try Checkpoint.open(path) } }
        case .tlm:
            let path = joinPath(scratch, "fuzz.tlm")
            guard v.attempt({ try FuzzTarget.write(bytes, to: path) }) != nil, let tlm = v.attempt({ try TLMFile(path: path) }) else { break }
            _ = v.attempt { try tlm.verify(threads: 1) }
            _ = v.attempt { try tlm.modelConfig() }
            for t in tlm.tensors.prefix(16) { _ = v.attempt { try tlm.rawBytes(of: t) } }
            for b in tlm.header.blobs.prefix(4) { _ = v.attempt { try tlm.blob(named: b.name) } }
            _ = InspectReport(tlm: tlm).textReport()
        case .tlmHeader:
            _ = v.attempt { try bytes.withUnsafeBytes { try TLMFile.parseHeader($0, path: "fuzz", dataLength: 1 << 20) } }
        case .tokenizerJSON:
            if let tok = v.attempt({ try BPETokenizer.fromTokenizerJSON(bytes, source: "fuzz") }) {
                _ = v.attempt { try tok.decode(tok.encode("Hello world, it's 2026! 你好 👋")) }
            }
        case .tokenizerCompact:
            if let tok = v.attempt({ try BPETokenizer.fromCompact(bytes, source: "fuzz") }) {
                _ = v.attempt { try tok.decode(tok.encode("Hello world, it's 2026! 你好 👋")) }
            }
        case .tokenize:
            let tok = FuzzTarget.gpt2Tokenizer
            let text = String(decoding: bytes, as: UTF8.self)
            // Every pre-tokenizer name's split gives back the text, piece by piece.
            for (name, splits) in TokenizerPipeline.ggufPreTokenizers {
                var pieces = [text]
                for split in splits { pieces = pieces.flatMap { PreTokenizer.split($0, split) } }
                precondition(pieces.joined().unicodeScalars.elementsEqual(text.unicodeScalars), "the \(name) split changed the text")
                precondition(!pieces.contains(""), "the \(name) split made an empty piece")
            }
            let ids = tok.encode(text)
            _ = v.attempt { try tok.decode(ids) }
            var stream = StreamingDecoder()
            for id in ids { _ = stream.append(v.attempt { try tok.bytes(of: id) } ?? []) }
            _ = stream.finish()
            // Decoding arbitrary ids, two bytes per id, may refuse those outside the vocabulary.
            var pairs: [Int] = []
            var i = 0
            while i + 1 < bytes.count { pairs.append(Int(bytes[i]) << 8 | Int(bytes[i + 1])); i += 2 }
            _ = v.attempt { try tok.decode(pairs) }
        case .tlmForged:
            FuzzTarget.runForged(bytes, scratch: scratch, v)
        case .sized:
            FuzzTarget.runSized(bytes, v)
        case .gguf:
            if let file = v.attempt({ try GGUFFile.parse(bytes, path: "fuzz") }) {
                let tensors = file.huggingFaceTensors()
                if let config = v.attempt({ try file.modelConfig() }) {
                    _ = v.attempt { try ModelLoader.checkRunnable(config, tensors: tensors.map(\.info), source: "fuzz") }
                    for t in tensors { _ = v.attempt { try file.rowPermutation(t.info.name, rows: t.info.shape.first ?? 0, config: config) } }
                }
                _ = v.attempt { try BPETokenizer.fromGGUF(file, source: "fuzz") }
                FuzzTarget.checkRoundTrip(file)
            }
        case .lines:
            FuzzTarget.runLines(bytes, scratch: scratch, v)
        }
        return v.verdict
    }

    /// What the reader made of a header, written again, reads back as the same header:
    /// the metadata keeps its exact types (a trap here is a finding).
    static func checkRoundTrip(_ file: GGUFFile) {
        // An alignment of 2^31 is valid, but pads the header to 2 GiB.
        guard file.alignment <= 1 << 16 else { return }
        var plans = file.tensors.map { GGUFTensorPlan(name: $0.name, dimensions: $0.dimensions, type: $0.type) }
        _ = GGUFWriter.layOut(&plans, alignment: file.alignment)
        let once = GGUFWriter.header(metadata: file.metadata.map { ($0.key, $0.value) }, tensors: plans)
        guard let again = try? GGUFFile.parse(once, path: "fuzz") else { preconditionFailure("a header written from a parsed one does not parse") }
        let twice = GGUFWriter.header(metadata: again.metadata.map { ($0.key, $0.value) }, tensors: plans)
        precondition(once == twice, "GGUF metadata changed in a round trip")
    }

    /// Lines of at most 64 bytes: as many as the input has newlines (one more for a last
    /// line without one), whatever their lengths.
    static func runLines(_ bytes: [UInt8], scratch: String, _ v: FuzzVerdict.Recorder) {
        let path = joinPath(scratch, "lines.txt")
        guard v.attempt({ try write(bytes, to: path) }) != nil else { return }
        guard let (fd, _) = v.attempt({ try openRegularFile(path) }) else { return }
        defer { close(fd) }
        let reader = BoundedLineReader(fd: fd, limit: 64)
        var count = 0
        while let line = v.attempt({ try reader.next() }) ?? nil {
            // Each byte of the line decodes to at most three (U+FFFD for a bad byte).
            if case .text(let t) = line { precondition(t.utf8.count <= 3 * 64, "a line past the limit was kept") }
            count += 1
        }
        let newlines = bytes.filter { $0 == 0x0A }.count
        precondition(count == newlines + (bytes.last.map { $0 == 0x0A ? 0 : 1 } ?? 0), "lines miscounted")
    }

    /// Shards for the index target to point at: two small valid files.
    public static func prepareScratch(_ dir: String) {
        for (i, names) in [["a", "b"], ["c"]].enumerated() {
            let specs = names.map { TensorSpec(name: $0, dtype: .float32, shape: [2]) }
            try? SafetensorsWriter.write(path: joinPath(dir, "model-0000\(i + 1)-of-00002.safetensors"), tensors: specs, overwrite: true) { _, raw in
                raw.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
    }

    /// A byte-level BPE over a small vocabulary: all 256 bytes and a few merges.
    static let gpt2Tokenizer: BPETokenizer = {
        var tokens = (0..<256).map { String(ByteLevel.character(for: UInt8($0))) }
        let merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("a", "n"), ("Ġ", "a")]
        for (a, b) in merges { tokens.append(a + b) }
        tokens.append("<|endoftext|>")
        return try! BPETokenizer(tokens: tokens, merges: merges,
                                 addedTokens: [AddedToken(id: tokens.count - 1, content: "<|endoftext|>", special: true)], source: "fuzz")
    }()

    static func runForged(_ bytes: [UInt8], scratch: String, _ v: FuzzVerdict.Recorder) {
        let path = joinPath(scratch, "forged.tlm")
        guard let file = forgeTLM(aroundHeader: bytes) else { return v.refuse("not a JSON object to forge a file around") }
        guard v.attempt({ try write(file, to: path) }) != nil, let model = v.attempt({ try ModelLoader.load(path, threads: 1) }) else { return }
        var greedy = SamplingOptions()
        greedy.temperature = 0
        _ = v.attempt { try Generator(model: model).generate(promptIDs: [0, 1], maxTokens: 2, sampling: greedy) }
        _ = v.attempt { try Generator(model: model).trace(prompt: "ab", top: 2) }
    }

    /// A .tlm file around `bytes` taken as its header: data filled from the input, a
    /// working tokenizer, every checksum and the preamble right. Nil when it is no JSON object.
    static func forgeTLM(aroundHeader bytes: [UInt8]) -> [UInt8]? {
        guard case .object(var header)? = try? JSON.parse(bytes), !bytes.isEmpty else { return nil }
        // The data section: as long as the regions the header names (at most 4 MiB), filled
        // from the input so scales and values vary.
        // The tokenizer blobs are replaced by a working tokenizer below.
        let blobs = (header["blobs"]?.array ?? []).filter { !["tokenizer.json", "tokenizer.bpe"].contains($0.object?["name"]?.string) }
        header["blobs"] = .array(blobs)
        var regions: [Range<Int>] = []
        for key in ["tensors", "blobs"] {
            for entry in header[key]?.array ?? [] {
                if let o = entry.object, let offset = o["offset"]?.int, let stored = o["stored_bytes"]?.int,
                   offset >= 0, stored >= 0, offset <= 4 << 20, stored <= 4 << 20 { regions.append(offset..<(offset + stored)) }
            }
        }
        // The gaps between regions stay zero, as verify requires of padding.
        var data = [UInt8](repeating: 0, count: regions.map(\.upperBound).max() ?? 0)
        for r in regions { for i in r { data[i] = bytes[i % bytes.count] } }
        // Scales that are numbers, so the loader goes past verify's scale check.
        for entry in header["tensors"]?.array ?? [] {
            guard let o = entry.object, let offset = o["offset"]?.int, let stored = o["stored_bytes"]?.int, offset >= 0, stored >= 0,
                  offset + stored <= data.count, let scheme = o["scheme"]?.string.flatMap(WeightScheme.init(rawValue:)),
                  let shape = o["shape"]?.array?.compactMap(\.int), shape.count == 2,
                  let raw = TLMTensorEntry.expectedRawBytes(shape: shape, scheme: scheme), raw == stored else { continue }
            data.withUnsafeMutableBytes { ScaleCheck.makeFinite(UnsafeMutableRawBufferPointer(rebasing: $0[offset..<(offset + stored)]), shape: shape, scheme: scheme) }
        }
        var end = data.count
        // A real tokenizer, so that loading goes on to the weights and the runner.
        while data.count % TLMFormat.alignment != 0 { data.append(0) }
        let tokenizer = gpt2Tokenizer.compactBytes()
        header["blobs"] = .array(blobs + [.object(JSONObject([
            "name": .string("tokenizer.bpe"), "offset": .int(data.count), "stored_bytes": .int(tokenizer.count),
            "raw_bytes": .int(tokenizer.count), "encoding": .string("raw"), "xxh64": .string(""),
        ]))])
        data += tokenizer
        end = data.count
        for key in ["tensors", "blobs"] {
            guard let entries = header[key]?.array else { continue }
            header[key] = .array(entries.map { entry in
                guard var o = entry.object, let offset = o["offset"]?.int, let stored = o["stored_bytes"]?.int,
                      offset >= 0, stored >= 0, offset <= end - stored else { return entry }
                o["xxh64"] = .string(TLMHeader.hex(data.withUnsafeBytes { TLMFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + stored)])) }))
                return .object(o)
            })
        }
        var file = [UInt8](repeating: 0, count: TLMFormat.preambleSize) + data
        while file.count % TLMFormat.alignment != 0 { file.append(0) }
        let headerBytes = Array(JSONValue.object(header).serialized(pretty: false).utf8)
        let headerOffset = file.count
        file += headerBytes
        let preamble = TLMPreamble(version: TLMFormat.version, headerOffset: UInt64(headerOffset), headerLength: UInt64(headerBytes.count),
                                   headerChecksum: headerBytes.withUnsafeBytes { TLMFormat.checksum($0) },
                                   dataOffset: UInt64(TLMFormat.preambleSize), fileLength: UInt64(file.count)).encoded()
        file.replaceSubrange(0..<preamble.count, with: preamble)
        return file
    }

    static func runSized(_ bytes: [UInt8], _ v: FuzzVerdict.Recorder) {
        guard bytes.count >= 5 else { return v.refuse("shorter than a kind, a count and a payload") }
        let repeats = Int(bytes[1]) | Int(bytes[2]) << 8 | Int(bytes[3]) << 16
        let payload = Array(bytes[4...])
        let total = min(payload.count * max(repeats, 1), 48 << 20)
        var big = [UInt8]()
        big.reserveCapacity(total)
        while big.count < total { big += payload.prefix(total - big.count) }
        switch bytes[0] % 3 {
        case 0:
            _ = v.attempt { try JSON.parse([UInt8(ascii: "[")] + big + [UInt8(ascii: "]")]) }
        case 1:
            // One metadata key: an array of the payload's first byte's type, its items the rest.
            var file = GGUFFile.magic
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { file += $0 } }
            func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { file += $0 } }
            u32(3); u64(0); u64(1); u64(1); file.append(UInt8(ascii: "k"))
            u32(9); u32(UInt32(payload[0] % 13)); u64(UInt64(big.count))
            _ = v.attempt { try GGUFFile.parse(file + big, path: "fuzz") }
        default:
            var file = [UInt8]()
            withUnsafeBytes(of: UInt64(big.count).littleEndian) { file += $0 }
            _ = v.attempt { try (file + big).withUnsafeBytes { try SafetensorsHeader.parse($0, file: "fuzz") } }
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path, overwrite: true)
        try w.write(bytes)
        try w.commit()
    }
}

/// What a fuzz target made of an input: every step succeeded, or what each step that
/// failed said. A refusal is a TensorLedgerError's (or the JSON parser's) one line; any
/// other error is a finding.
public enum FuzzVerdict: Equatable, CustomStringConvertible {
    case accepted
    /// Each distinct refusal, in the order the steps met them.
    case refused([String])
    /// An error that is not one of ours: a raw error leaked where a typed one belongs.
    case unexpected(String)

    public var refusals: [String] {
        if case .refused(let r) = self { return r }
        return []
    }

    public var description: String {
        switch self {
        case .accepted: return "accepted"
        case .refused(let why): return "refused: " + why.joined(separator: " | ")
        case .unexpected(let what): return "unexpected error: " + what
        }
    }

    final class Recorder {
        private(set) var verdict = FuzzVerdict.accepted

        /// Runs one step; a failure is recorded and gives nil, and the next steps go on.
        func attempt<T>(_ body: () throws -> T) -> T? {
            do { return try body() } catch let e as any TensorLedgerError {
                refuse(e.description)
            } catch let e as JSONError {
                refuse(e.description)
            } catch {
                verdict = .unexpected("\(type(of: error)): \(error)")
            }
            return nil
        }

        func refuse(_ why: String) {
            switch verdict {
            case .accepted: verdict = .refused([why])
            case .refused(let r) where !r.contains(why): verdict = .refused(r + [why])
            default: break
            }
        }
    }
}
