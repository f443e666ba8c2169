// int8 quantization: the C kernels against their Swift twins, against numpy's
// reference bytes, and against the error bound the schemes promise.

import Testing
@testable import TensorLedger

@Suite struct QuantizationTests {
    static func randomRows(_ rows: Int, _ cols: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return (0..<rows).map { r in
            (0..<cols).map { c in
                // Mixed magnitudes, exact zeros and a zero block, to cover the edge paths.
                if r == 1 && c < 32 { return 0 }
                let v = rng.nextGaussianish(std: r % 3 == 0 ? 0.02 : 3)
                return c % 17 == 0 ? 0 : v
            }
        }
    }

    @Test func errorIsWithinHalfAScaleStep() throws {
        for row in Self.randomRows(6, 512, seed: 11) {
            let (q, scales) = try Q8.kernelBlocks(row)
            let deq = Q8.dequantizeBlocks(q, scales: scales)
            for i in row.indices {
                let step = Float(Float16(bitPattern: scales[i / 32]))
                #expect(abs(row[i] - deq[i]) <= step / 2, "value \(i)")
            }
            let (qr, d) = try Q8.kernelRow(row)
            for i in row.indices {
                // One f32 rounding of q·d on top of the half step.
                #expect(abs(row[i] - Float(qr[i]) * d) <= d / 2 * (1 + 1e-6), "row value \(i)")
            }
        }
    }

    @Test func matchesNumpyByteForByte() throws {
        let input = try SafetensorsFile(path: Fixtures.path("expected/q8-input.safetensors"))
        let reference = try SafetensorsFile(path: Fixtures.path("expected/q8-reference.safetensors"))
        for name in ["c_fc_rows", "wte", "edges"] {
            let t = try #require(input.tensor(named: name))
            let values = try floatValues(input.data(for: t), info: t)
            let cols = t.shape[1]
            var q: [Int8] = [], scales: [UInt16] = [], rowQ: [Int8] = [], rowScales: [Float] = []
            for r in 0..<t.shape[0] {
                let row = Array(values[(r * cols)..<((r + 1) * cols)])
                let b = try Q8.kernelBlocks(row)
                q += b.q
                scales += b.scales
                let rr = try Q8.kernelRow(row)
                rowQ += rr.q
                rowScales.append(rr.scale)
            }
            func bytes(_ n: String) -> [UInt8] { Array(reference.data(for: reference.tensor(named: n)!)) }
            #expect(q.map { UInt8(bitPattern: $0) } == bytes("\(name).q8.q"), "\(name) q8 values")
            #expect(scales.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } == bytes("\(name).q8.scales"), "\(name) q8 scales")
            #expect(rowQ.map { UInt8(bitPattern: $0) } == bytes("\(name).q8row.q"), "\(name) q8-row values")
            #expect(rowScales.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } } == bytes("\(name).q8row.scales"), "\(name) q8-row scales")
        }
    }

    @Test func tiesRoundAwayFromZero() throws {
        let step = Float(1.0 / 128)
        var row = (-16..<15).map { (Float($0) + 0.5) * step }
        row.append(127 * step)
        let (q, scales) = try Q8.kernelBlocks(row)
        #expect(Float(Float16(bitPattern: scales[0])) == step)
        #expect(Array(q.prefix(4)) == [-16, -15, -14, -13])
        #expect(q[15] == -1 && q[16] == 1)  // -0.5 → -1, 0.5 → 1
    }

    @Test func refusesNonFiniteValues() {
        var row = [Float](repeating: 0.5, count: 64)
        row[40] = .nan
        #expect(throws: QuantizationError.nonFinite(tensor: "row", index: 40)) { try Q8.kernelBlocks(row) }
        row[40] = 1e9  // beyond what an f16 scale can hold (65504 · 127)
        #expect(throws: QuantizationError.scaleOverflow(tensor: "row", index: 32)) { try Q8.kernelBlocks(row) }
        row[40] = -.infinity
        #expect(throws: QuantizationError.nonFinite(tensor: "row", index: 40)) { try Q8.kernelRow(row) }
    }

}

