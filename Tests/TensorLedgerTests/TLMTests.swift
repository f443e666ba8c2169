// The .tlm format: round trips, the converter's promises, and damaged files.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized) struct TLMTests {
    static func convert(_ model: String = "gpt2-tiny", to output: String, _ configure: (inout ConversionOptions) -> Void = { _ in }) throws -> ConversionReport {
        var options = ConversionOptions()
        configure(&options)
        return try Converter.convert(input: Fixtures.model(model), output: output, options: options)
    }

    /// The source tensor's values in the .tlm's row layout.
    static func sourceRows(_ checkpoint: Checkpoint, _ entry: TLMTensorEntry) throws -> [Float] {
        let t = try #require(checkpoint.tensor(named: entry.name))
        let values = try floatValues(checkpoint.data(for: t), info: t.info)
        guard entry.transposed else { return values }
        let (r, c) = (t.info.shape[0], t.info.shape[1])
        return (0..<(r * c)).map { i in values[(i % r) * c + i / r] }
    }

    @Test func f32RoundTripIsBitExact() throws {
        let dir = TemporaryDirectory()
        _ = try Self.convert(to: dir.file("m.tlm")) { $0.scheme = .f32 }
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        try tlm.verify()
        let source = try Checkpoint.open(Fixtures.model("gpt2-tiny"))
        #expect(tlm.tensors.count == source.tensors.count)
        for e in tlm.tensors {
            let raw = try tlm.rawBytes(of: e).array
            let stored = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let expected = try Self.sourceRows(source, e)
            #expect(stored.map(\.bitPattern).elementsEqual(expected.map(\.bitPattern)), "\(e.name)")
        }
        #expect(try tlm.blob(named: "config.json") == (try readWholeFile(Fixtures.model("gpt2-tiny") + "/config.json")))
    }

    @Test(arguments: [DType.float16, .bfloat16])
    func halfRoundTripsAreExact(_ dtype: DType) throws {
        // A half-precision source stored in its own format comes back bit for bit.
        let dir = TemporaryDirectory()
        let model = dir.file("src")
        try makeDirectory(model)
        try SyntheticCheckpoint.write(config: ModelConfig.load(Fixtures.model("gpt2-tiny") + "/config.json"), directory: model, dtype: dtype, seed: 3)
        var options = ConversionOptions()
        options.scheme = dtype == .float16 ? .f16 : .bf16
        _ = try Converter.convert(input: model, output: dir.file("m.tlm"), options: options)
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        let source = try Checkpoint.open(model)
        for e in tlm.tensors where e.scheme != .f32 {
            let t = try #require(source.tensor(named: e.name))
            let raw = try tlm.rawBytes(of: e).array
            if !e.transposed {
                #expect(raw.elementsEqual(source.data(for: t)), "\(e.name)")
            } else {
                let back = raw.withUnsafeBytes { b in (0..<e.elementCount).map { floatFromHalfOrBF16(b, $0, dtype) } }
                let expected = try Self.sourceRows(source, e)
                #expect(back.elementsEqual(expected), "\(e.name)")
            }
        }
    }

    @Test(arguments: [WeightScheme.q8, .q8Row])
    func quantizedTensorsDequantizeWithinHalfAStep(_ scheme: WeightScheme) throws {
        let dir = TemporaryDirectory()
        let report = try Self.convert(to: dir.file("m.tlm")) { $0.scheme = scheme }
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        let source = try Checkpoint.open(Fixtures.model("gpt2-tiny"))
        var quantized = 0
        for e in tlm.tensors where e.scheme == scheme {
            quantized += 1
            let original = try Self.sourceRows(source, e)
            let raw = try tlm.rawBytes(of: e)
            #expect(raw.isMapped, "int8 tensors are used in place from the mapping")
            let q = raw.bytes.bindMemory(to: Int8.self)
            for i in 0..<e.elementCount {
                let r = i / e.cols
                let scale: Float = scheme == .q8
                    ? Float(Float16(bitPattern: raw.bytes.loadUnaligned(fromByteOffset: e.scalesOffset + 2 * (i / 32), as: UInt16.self)))
                    : raw.bytes.loadUnaligned(fromByteOffset: e.scalesOffset + 4 * r, as: Float.self)
                #expect(abs(Float(q[i]) * scale - original[i]) <= scale / 2 * (1 + 1e-6), "\(e.name)[\(i)]")
            }
            #expect(e.quality != nil)
        }
        #expect(quantized == 9)  // 2 layers × (c_attn, attn c_proj, c_fc, mlp c_proj) + wte
        #expect(report.totalQuality.snrDecibels > 30)
    }

    @Test func convertedFileMatchesTheNumpyReference() throws {
        let dir = TemporaryDirectory()
        _ = try Self.convert(to: dir.file("m.tlm"))
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        let reference = try SafetensorsFile(path: Fixtures.path("expected/q8-reference.safetensors"))
        let e = try #require(tlm.tensor(named: "transformer.h.0.mlp.c_fc.weight"))
        #expect(e.transposed && e.shape == [128, 32])
        let raw = try tlm.rawBytes(of: e).array
        #expect(raw[0..<e.elementCount].elementsEqual(reference.data(for: reference.tensor(named: "c_fc_rows.q8.q")!)))
        let scales = reference.data(for: reference.tensor(named: "c_fc_rows.q8.scales")!)
        #expect(raw[e.scalesOffset..<(e.scalesOffset + scales.count)].elementsEqual(scales))
    }

    @Test func keepLeavesNamedTensorsInFloat() throws {
        let dir = TemporaryDirectory()
        let report = try Self.convert(to: dir.file("m.tlm")) { $0.keep = ["embedding", "*c_proj*"] }
        let schemes = Dictionary(uniqueKeysWithValues: report.items.map { ($0.source.name, $0.scheme) })
        #expect(schemes["transformer.wte.weight"] == .f32)
        #expect(schemes["transformer.h.0.attn.c_proj.weight"] == .f32)
        #expect(schemes["transformer.h.0.mlp.c_fc.weight"] == .q8)
    }

    @Test func headerOnlyViewsMatchTheSource() throws {
        let dir = TemporaryDirectory()
        _ = try Self.convert(to: dir.file("m.tlm"))
        let (fromTLM, _) = try ModelSource.ledger(dir.file("m.tlm"))
        let (fromSource, _) = try ModelSource.ledger(Fixtures.model("gpt2-tiny"))
        #expect(fromTLM.rows.map(\.parameters) == fromSource.rows.map(\.parameters))
        #expect(fromTLM.rows.map(\.matrices) == fromSource.rows.map(\.matrices))
        let report = try ModelSource.inspect(dir.file("m.tlm"))
        #expect(report.tensors.count == 28)
    }

    @Test func verifyReportsWhatItChecked() throws {
        let dir = TemporaryDirectory()
        _ = try Self.convert(to: dir.file("m.tlm"))
        let report = try VerifyReport.check(dir.file("m.tlm"))
        #expect(report.tensors == 28 && report.blobs == 1)
        #expect(report.textReport.hasPrefix(dir.file("m.tlm") + ": OK: header, 28 tensors"))
        #expect(ModelSource.isTLM(dir.file("m.tlm")))
        #expect(!ModelSource.isTLM(dir.path) && !ModelSource.isTLM(Fixtures.model("gpt2-tiny") + "/model.safetensors"))
    }

    @Test func dryRunWritesNothing() throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = .q8
        let report = try Converter.convert(input: Fixtures.model("gpt2-tiny"), output: dir.file("m.tlm"), options: options, dryRun: true)
        #expect(report.dryRun && report.items.count == 28)
        #expect(try directoryEntries(dir.path).isEmpty)
    }

    @Test func neverOverwritesWithoutForceNorTheInput() throws {
        let dir = TemporaryDirectory()
        writeFile(dir.file("m.tlm"), [1, 2, 3])
        #expect(throws: FileError.outputExists(path: dir.file("m.tlm"))) { try Self.convert(to: dir.file("m.tlm")) }
        #expect(try readWholeFile(dir.file("m.tlm")) == [1, 2, 3])
        let model = dir.file("model")
        try makeDirectory(model)
        copyFile(Fixtures.model("gpt2-tiny") + "/model.safetensors", model + "/model.safetensors")
        #expect(throws: FileError.outputIsInput(path: model + "/model.safetensors")) {
            var o = ConversionOptions()
            o.overwrite = true
            _ = try Converter.convert(input: model, output: model + "/model.safetensors", options: o)
        }
        // Every input, whatever the spelling: a sharded checkpoint's index too, in either format.
        let sharded = dir.file("sharded")
        try makeDirectory(sharded)
        for name in try directoryEntries(Fixtures.model("gpt2-tiny-sharded")) { copyFile(Fixtures.model("gpt2-tiny-sharded") + "/" + name, sharded + "/" + name) }
        let index = sharded + "/model.safetensors.index.json"
        let before = try readWholeFile(index)
        for format in [ConversionOptions.OutputFormat.tlm, .gguf] {
            for spelling in [index, sharded + "/./model.safetensors.index.json", sharded + "/../sharded/model.safetensors.index.json"] {
                var o = ConversionOptions()
                o.overwrite = true
                o.format = format
                #expect(throws: FileError.outputIsInput(path: spelling)) { _ = try Converter.convert(input: sharded, output: spelling, options: o) }
            }
        }
        #expect(try readWholeFile(index) == before)
        // --force never replaces what is not a regular file.
        let fifo = dir.file("out.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        var o = ConversionOptions()
        o.overwrite = true
        #expect(throws: FileError.outputNotRegular(path: fifo)) { _ = try Converter.convert(input: model, output: fifo, options: o) }
    }

    @Test func aFailureMidwayLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        let model = dir.file("model")
        try makeDirectory(model)
        let good = try SafetensorsFile(path: Fixtures.model("gpt2-tiny") + "/model.safetensors")
        let specs = good.tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        // The last tensor written holds a NaN: conversion fails after most of the file is out.
        try SafetensorsWriter.write(path: model + "/model.safetensors", tensors: specs) { spec, raw in
            let src = good.data(for: good.tensor(named: spec.name)!)
            raw.copyMemory(from: src)
            if spec.name == specs.last!.name { raw.storeBytes(of: Float.nan, toByteOffset: 8, as: Float.self) }
        }
        copyFile(Fixtures.model("gpt2-tiny") + "/config.json", model + "/config.json")
        #expect(throws: QuantizationError.self) {
            _ = try Converter.convert(input: model, output: dir.file("m.tlm"), options: ConversionOptions())
        }
        #expect(try directoryEntries(dir.path) == ["model"], "no output and no temporary file")
    }

    /// A NaN in a Conv1D weight (stored (in, out), transposed on the way) is named at its
    /// place in the tensor as the file stores it, for both int8 schemes, and as a NaN.
    @Test(arguments: [WeightScheme.q8, .q8Row])
    func aNonFiniteWeightIsNamedWhereTheFileHasIt(_ scheme: WeightScheme) throws {
        let dir = TemporaryDirectory()
        let model = dir.file("model")
        try makeDirectory(model)
        let good = try SafetensorsFile(path: Fixtures.model("gpt2-tiny") + "/model.safetensors")
        let specs = good.tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        let target = "transformer.h.0.mlp.c_fc.weight"  // (32, 128)
        try SafetensorsWriter.write(path: model + "/model.safetensors", tensors: specs) { spec, raw in
            raw.copyMemory(from: good.data(for: good.tensor(named: spec.name)!))
            if spec.name == target { raw.storeBytes(of: Float.nan, toByteOffset: 4 * (5 * 128 + 70), as: Float.self) }
        }
        copyFile(Fixtures.model("gpt2-tiny") + "/config.json", model + "/config.json")
        var options = ConversionOptions()
        options.scheme = scheme
        #expect(throws: QuantizationError.nonFinite(tensor: target, index: 5 * 128 + 70)) {
            _ = try Converter.convert(input: model, output: dir.file("m.tlm"), options: options)
        }
    }

    // MARK: Damaged files

    static func damaged(_ mutate: (inout [UInt8], TLMFile) -> Void) throws -> String {
        let dir = TemporaryDirectory()
        _ = try convert(to: dir.file("m.tlm"))
        var bytes = try readWholeFile(dir.file("m.tlm"))
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        mutate(&bytes, tlm)
        let path = "/tmp/tensorledger-damaged-\(bytes.count)-\(xxh64(bytes)).tlm"
        writeFile(path, bytes)
        return path
    }

    static func firstError(_ path: String) -> String {
        defer { _ = unlinkFile(path) }
        do {
            let tlm = try TLMFile(path: path)
            try tlm.verify()
            return "none"
        } catch {
            return caseName(error)
        }
    }

    @Test func flippedBytesAnywhereAreCaught() throws {
        #expect(Self.firstError(try Self.damaged { b, _ in b[20] ^= 1 }) == "badPreamble")
        #expect(Self.firstError(try Self.damaged { b, t in b[t.headerOffset + 10] ^= 1 }) == "headerChecksumMismatch")
        #expect(Self.firstError(try Self.damaged { b, t in
            let e = t.tensor(named: "transformer.h.1.mlp.c_fc.weight")!
            b[t.dataOffset + e.offset + 77] ^= 0x10
        }) == "checksumMismatch")
        #expect(Self.firstError(try Self.damaged { b, t in
            let e = t.tensor(named: "transformer.h.0.attn.c_attn.bias")!  // compressed: 23 bytes, then padding
            b[t.dataOffset + e.offset + e.storedBytes + 3] ^= 1
        }) == "nonZeroPadding")
        // Every tensor, one flipped byte each: each is named.
        let dir = TemporaryDirectory()
        _ = try Self.convert(to: dir.file("m.tlm"))
        let clean = try readWholeFile(dir.file("m.tlm"))
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        for e in tlm.tensors {
            var b = clean
            b[tlm.dataOffset + e.offset + e.storedBytes / 2] ^= 0x80
            writeFile(dir.file("bad.tlm"), b)
            let bad = try TLMFile(path: dir.file("bad.tlm"))
            #expect(throws: TLMError.checksumMismatch(file: dir.file("bad.tlm"), name: e.name, offset: tlm.dataOffset + e.offset)) {
                _ = try bad.rawBytes(of: bad.tensor(named: e.name)!)
            }
        }
    }

    @Test func everyTruncationOfATLMFileIsAnError() throws {
        let dir = TemporaryDirectory()
        _ = try Converter.convert(input: Fixtures.model("gpt2-tiny"), output: dir.file("m.tlm"), options: ConversionOptions())
        let bytes = try readWholeFile(dir.file("m.tlm"))
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        var cuts: Set<Int> = [0, 3, 4, 8, 56, 63, 64, 65, tlm.headerOffset - 1, tlm.headerOffset, tlm.headerOffset + 1, bytes.count - 1]
        for t in tlm.tensors { cuts.insert(tlm.dataOffset + t.offset); cuts.insert(tlm.dataOffset + t.offset + t.storedBytes / 2) }
        for cut in cuts.sorted() where cut < bytes.count {
            writeFile(dir.file("cut.tlm"), Array(bytes[0..<cut]))
            #expect(throws: TLMError.self, "cut at \(cut)") { try TLMFile(path: dir.file("cut.tlm")).verify() }
        }
    }

    @Test func xxh64MatchesThePythonPackage() throws {
        let vectors = try #require(Fixtures.json("expected/xxh64.json")["xxh64"]?.object)
        for (n, hex) in vectors.pairs {
            let data = (0..<Int(n)!).map { UInt8((31 * $0 + 7) % 256) }
            #expect(TLMHeader.hex(xxh64(data)) == hex.string!, "length \(n)")
        }
    }

    @Test func truncatedWrongMagicAndNewerVersionAreNamed() throws {
        #expect(Self.firstError(try Self.damaged { b, _ in b.removeLast(100) }) == "lengthMismatch")
        #expect(Self.firstError(try Self.damaged { b, _ in b.removeLast(b.count - 30) }) == "badPreamble")
        #expect(Self.firstError(try Self.damaged { b, _ in b[0] = UInt8(ascii: "X") }) == "notTLM")
        #expect(Self.firstError(try Self.damaged { b, _ in b = [] }) == "notTLM")
        // A version-2 file with a valid preamble of its own.
        let v2 = try Self.damaged { b, _ in
            b[4] = 2
            let sum = Array(b[0..<56]).withUnsafeBytes { TLMFormat.checksum($0) }
            withUnsafeBytes(of: sum.littleEndian) { for i in 0..<8 { b[56 + i] = $0[i] } }
        }
        do {
            _ = try TLMFile(path: v2)
            Issue.record("read a newer version")
        } catch let e as TLMError {
            #expect(e.description.contains("format version 2 by a newer TensorLedger"), "\(e)")
        }
        _ = unlinkFile(v2)
    }
}

func floatFromHalfOrBF16(_ b: UnsafeRawBufferPointer, _ i: Int, _ dtype: DType) -> Float {
    let bits = b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
    return dtype == .float16 ? floatFromHalfBits(bits) : floatFromBFloat16Bits(bits)
}

func unlinkFile(_ path: String) -> Int32 { unlink(path) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The configuration a .tlm header stores: every field written is read back, and a missing
/// size is refused by name.
@Suite struct StoredConfigTests {
    @Test func everyPresetSurvivesTheStoredForm() throws {
        var checked = 0
        for (name, preset) in ModelConfig.presets {
            var c = preset
            c.slidingWindow = 4096
            c.bosTokenID = 1
            c.eosTokenIDs = [2, 3]
            c.attentionBias = true
            #expect(try ModelConfig.parseStored(c.json) == c, "\(name)")
            checked += 1
        }
        #expect(checked >= 10)
    }

    @Test func aMissingSizeIsRefusedByName() throws {
        var o = try #require(ModelConfig.presets[0].config.json.object)
        o["kv_heads"] = nil
        #expect(throws: ConfigError.self) { try ModelConfig.parseStored(.object(o)) }
        do { _ = try ModelConfig.parseStored(.object(o)) } catch { #expect(error.description.contains("config.kv_heads")) }
    }
}

extension StoredConfigTests {
    /// A header whose configuration loading would refuse (checksums all right) is refused by
    /// `verify` too, naming the field: verify's OK means the file loads.
    @Test func verifyRefusesAStoredConfigurationLoadingWouldRefuse() throws {
        let seed = try readWholeFile(Fixtures.path("fuzz/seeds/tlm-forged/tiny-genesis-q8.json"))
        guard case .object(var header) = try JSON.parse(seed), var config = header["config"]?.object else { throw FixtureError.notAnObject("seed") }
        config["layer_norm_epsilon"] = .double(1e30)
        header["config"] = .object(config)
        let dir = TemporaryDirectory()
        let forged = try #require(FuzzTarget.forgeTLM(aroundHeader: Array(JSONValue.object(header).serialized(pretty: false).utf8)))
        writeFile(dir.file("m.tlm"), forged)
        let r = CLI.run(["verify", dir.file("m.tlm")])
        #expect(r.isOneErrorLine(containing: "epsilon"), "\(r.status): \(r.stderr)")
        // The same file with its configuration intact verifies.
        writeFile(dir.file("ok.tlm"), try #require(FuzzTarget.forgeTLM(aroundHeader: seed)))
        #expect(CLI.run(["verify", dir.file("ok.tlm")]).status == 0)
    }
}
