// The safetensors reader against the official implementation: the same files accepted,
// every malformed file rejected with the error for its rule.

import Testing
@testable import TensorLedger

@Suite struct SafetensorsTests {
    /// Empty when the fixture is missing; `theMalformedTableIsThere` then fails.
    static let malformed: [(String, String?, String)] = {
        ((try? Fixtures.checkpointFacts["malformed"]?.object?.pairs).map(Array.init) ?? []).compactMap { (name: String, v: JSONValue) -> (String, String?, String)? in
            guard let o = v.object, let reference = o["reference"]?.string else { return nil }
            return (name, o["error"]?.string, reference)
        }
    }()

    @Test func theMalformedTableIsThere() throws {
        #expect(try Fixtures.checkpointFacts["malformed"]?.object?.count == Self.malformed.count)
        #expect(Self.malformed.count > 20)
    }

    @Test(arguments: malformed.map(\.0))
    func agreesWithTheReferenceOn(_ name: String) throws {
        let (_, expectedError, reference) = Self.malformed.first { $0.0 == name }!
        let path = Fixtures.path("malformed/\(name).safetensors")
        do {
            let file = try SafetensorsFile(path: path)
            #expect(expectedError == nil, "accepted a file that should fail with \(expectedError ?? "")")
            // Where the reference accepts, we list the same tensors.
            #expect(reference == "ok: " + file.tensors.map(\.name).sorted().joined(separator: ","))
        } catch let error as SafetensorsError {
            #expect(caseName(error) == expectedError, "\(error)")
            #expect(error.description.hasPrefix(path + ": "), "the message names the file: \(error)")
            // The reference rejects every malformed file too, except the duplicate name it silently accepts.
            if name != "duplicate-name" { #expect(reference.hasPrefix("error:"), "reference: \(reference)") }
        }
    }

    @Test func whatTheReferenceIgnoresIsAcceptedAndReported() throws {
        let null = try SafetensorsFile(path: Fixtures.path("malformed/valid-metadata-null.safetensors"))
        #expect(null.metadata.isEmpty && null.warnings.isEmpty)
        let path = Fixtures.path("malformed/valid-unknown-field.safetensors")
        let unknown = try Checkpoint.open(path)
        #expect(unknown.warnings == ["\(path): tensor \"a\" has a field \"quant\" the format does not define; ignored, as the reference reader ignores it"])
        let r = CLI.run(["inspect", path])
        #expect(r.status == 0 && r.stderr.contains("field \"quant\""), "\(r.stderr)")
    }

    @Test func readsEveryDtypeScalarsAndEmptyTensors() throws {
        let file = try SafetensorsFile(path: Fixtures.path("malformed/valid-all-dtypes.safetensors"))
        #expect(Set(file.tensors.compactMap { $0.name.hasPrefix("t_") ? DType(rawValue: String($0.name.dropFirst(2))) : nil }) == Set(DType.allCases))
        #expect(file.tensor(named: "scalar")?.shape == [])
        #expect(file.tensor(named: "scalar")?.elementCount == 1)
        #expect(file.tensor(named: "empty")?.elementCount == 0)
        #expect(file.metadata.map(\.key) == ["format", "note"])
        let f4 = try #require(file.tensor(named: "t_F4"))
        #expect(f4.byteCount == 2)
    }

    @Test func readsTheShapesTransformersWrote() throws {
        for model in ["gpt2-tiny", "llama-tiny", "bert-tiny", "neox-tiny"] {
            let expected = try Fixtures.checkpointFacts[model]!.object!["stored_tensors"]!.object!
            let file = try SafetensorsFile(path: Fixtures.model(model) + "/model.safetensors")
            #expect(file.tensors.count == expected.count)
            for (name, shape) in expected.pairs {
                #expect(file.tensor(named: name)?.shape == shape.array!.map { $0.int! }, "\(model): \(name)")
            }
        }
    }

    @Test func viewsElementsInTheirOwnType() throws {
        let file = try SafetensorsFile(path: Fixtures.path("malformed/valid-all-dtypes.safetensors"))
        let i16 = try #require(file.tensor(named: "t_I16"))
        // Data bytes count up from 0 (mod 256), little-endian: element i is (b+1)·256 + b for b = its first byte.
        let first = i16.dataOffsets.lowerBound % 256
        let values = try file.withElements(of: i16, as: Int16.self) { Array($0) }
        #expect(values.count == 6)
        #expect(values[0] == Int16(truncatingIfNeeded: ((first + 1) % 256) << 8 | first))
        #expect(throws: TensorViewError.self) { try file.withElements(of: i16, as: Float.self) { $0.count } }
        let gpt2 = try SafetensorsFile(path: Fixtures.model("gpt2-tiny") + "/model.safetensors")
        let wte = try #require(gpt2.tensor(named: "transformer.wte.weight"))
        let viewed = try gpt2.withElements(of: wte, as: Float.self) { Array($0) }
        #expect(viewed == (try floatValues(gpt2.data(for: wte), info: wte)))
    }

    @Test func widensHalfFormatsExactly() throws {
        // 1.0, -2.0, 65504 (largest f16), smallest subnormal
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        #expect(halves.map(floatFromHalfBits) == [1, -2, 65504, Float(Float16(bitPattern: 1))])
        #expect(floatFromBFloat16Bits(0x3F80) == 1)
        #expect(bfloat16BitsFromFloat(1) == 0x3F80)
        // Ties round to even: 1 + 2^-8 lies halfway between two bfloat16 values.
        #expect(bfloat16BitsFromFloat(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(bfloat16BitsFromFloat(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(halfBitsFromFloat(65504) == 0x7BFF)
    }

    @Test func convertsTensorsToFloat() throws {
        let file = try SafetensorsFile(path: Fixtures.path("malformed/valid-all-dtypes.safetensors"))
        // The fixture's data bytes count up from 0, so every element is predictable.
        let u8 = try #require(file.tensor(named: "t_U8"))
        let values = try floatValues(file.data(for: u8), info: u8)
        let start = Float(u8.dataOffsets.lowerBound % 256)
        #expect(values == (0..<6).map { start + Float($0) })
        let c64 = try #require(file.tensor(named: "t_C64"))
        #expect(throws: TensorDataError.self) { try floatValues(file.data(for: c64), info: c64) }
    }
}

@Suite struct TruncationTests {
    /// Cut a real file at every structural boundary (and around each): always a typed error.
    @Test func everyTruncationOfASafetensorsFileIsAnError() throws {
        let bytes = try readWholeFile(Fixtures.model("gpt2-tiny") + "/model.safetensors")
        let header = try bytes.withUnsafeBytes { try SafetensorsHeader.parse($0, file: "x") }
        var cuts: Set<Int> = [0, 1, 7, 8, 9, header.dataStart - 1, header.dataStart, header.dataStart + 1, bytes.count - 1]
        for t in header.tensors { for d in [-1, 0, 1] { cuts.insert(header.dataStart + t.dataOffsets.lowerBound + d) } }
        for cut in cuts.sorted() where cut >= 0 && cut < bytes.count {
            #expect(throws: SafetensorsError.self, "cut at \(cut)") {
                try Array(bytes[0..<cut]).withUnsafeBytes { try SafetensorsHeader.parse($0, file: "x") }
            }
        }
    }

    @Test func aHeaderClaiming2To63BytesIsRefusedBeforeAnyAllocation() {
        var bytes = withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { Array($0) }
        bytes += Array("{}".utf8)
        #expect(throws: SafetensorsError.headerTooLarge(file: "x", declared: UInt64(1) << 63, limit: 100_000_000)) {
            try bytes.withUnsafeBytes { try SafetensorsHeader.parse($0, file: "x") }
        }
    }

}
