// Every CPU variant of the C kernels against its plain Swift twin. All tests that force a
// variant live in this one serialized suite, so none of them runs another's variant.

import Testing
@testable import TensorLedger

@Suite(.serialized) struct KernelTests {
    static func vector(_ n: Int, seed: UInt64, std: Float = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in rng.nextGaussianish(std: std) }
    }

    /// Lengths that exercise the vector bodies and their tails.
    static let lengths = [32, 64, 96, 768, 3072 + 32]

    /// f32 → f16 for the KV cache rounds as Swift's Float16 does: every f16 value, the
    /// midpoints between neighbours (ties go to the even one) and just either side of them,
    /// subnormals, what overflows to infinity, infinities and NaN.
    @Test(arguments: KernelISA.available)
    func narrowingToF16MatchesFloat16(_ isa: KernelISA) {
        var values: [Float] = [65_504, 65_519.996, 65_520, 1e6, .infinity, -.infinity, .nan, 1e-10, -1e-10, 0, -0.0]
        for bits in UInt16(0)..<0x7c00 {
            let a = floatFromHalfBits(bits), b = floatFromHalfBits(bits + 1), mid = (a + b) / 2
            values += [a, -a, mid, -mid, mid.nextUp, mid.nextDown]
        }
        let got = KernelISA.with(isa) { Kernels.narrowF16(values) }
        let mismatches = zip(values, got).filter { x, h in
            let want = halfBitsFromFloat(x)
            return x.isNaN ? !floatFromHalfBits(h).isNaN : h != want
        }
        let wrong = mismatches.count, examples = mismatches.prefix(5).map { "\($0.0) → \($0.1)" }
        #expect(wrong == 0, "\(isa.name): \(examples)")
    }

    @Test(arguments: KernelISA.available)
    func floatDotsMatchTheTwins(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for n in Self.lengths + [1, 7, 33] {
                let a = Self.vector(n, seed: 1), b = Self.vector(n, seed: 2)
                let tolerance = 1e-5 * Double(n).squareRoot() * 4
                #expect(abs(Double(Kernels.dotF32(a, b)) - ReferenceKernels.dotF32(a, b)) < tolerance, "\(isa.name) f32 n=\(n)")
                let h = a.map(halfBitsFromFloat), bf = a.map(bfloat16BitsFromFloat)
                #expect(abs(Double(Kernels.dotF16(h, b)) - ReferenceKernels.dotF16(h, b)) < tolerance, "\(isa.name) f16 n=\(n)")
                #expect(abs(Double(Kernels.dotBF16(bf, b)) - ReferenceKernels.dotBF16(bf, b)) < tolerance, "\(isa.name) bf16 n=\(n)")
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func int8DotsMatchTheTwins(_ isa: KernelISA) throws {
        try KernelISA.with(isa) {
            for n in Self.lengths {
                let w = Self.vector(n, seed: 3, std: 0.02), x = Self.vector(n, seed: 4, std: 2)
                let (wq, ws) = try Q8.kernelBlocks(w)
                let (xq, xs) = Kernels.quantizeActivations(x)
                let twin = ReferenceKernels.quantizeActivations(x)
                #expect(xq == twin.q && xs == twin.scales, "\(isa.name) activations n=\(n)")
                // Extremes: every weight and activation at ±127, where int16 sums would overflow.
                let extreme = [Int8](repeating: 127, count: n), negative = [Int8](repeating: -127, count: n)
                for (a, b) in [(wq, xq), (extreme, extreme), (extreme, negative), (negative, negative)] {
                    let ref = ReferenceKernels.dotQ8(a, scales: ws, b, scales: xs)
                    let got = Double(Kernels.dotQ8(a, scales: ws, b, scales: xs))
                    #expect(abs(got - ref) <= 1e-5 * max(1, abs(ref)), "\(isa.name) q8 n=\(n): \(got) vs \(ref)")
                    let rowRef = ReferenceKernels.dotQ8Row(a, scale: 0.01, b, scales: xs)
                    let rowGot = Double(Kernels.dotQ8Row(a, scale: 0.01, b, scales: xs))
                    #expect(abs(rowGot - rowRef) <= 1e-5 * max(1, abs(rowRef)), "\(isa.name) q8-row n=\(n)")
                }
            }
        }
    }

    /// The decoding product over a matrix's rows (SmolLM2's 576-wide ones among them).
    @Test(arguments: KernelISA.available)
    func q8RowsMatchTheTwin(_ isa: KernelISA) throws {
        try KernelISA.with(isa) {
            for n in [32, 576, 3072] {
                let rows = 5
                let (wq, ws) = try Q8.kernelBlocks(Self.vector(rows * n, seed: 5, std: 0.02))
                let (xq, xs) = Kernels.quantizeActivations(Self.vector(n, seed: 6, std: 2))
                let got = Kernels.dotQ8Rows(wq, scales: ws, xq, scales: xs)
                #expect(got.count == rows)
                for r in 0..<rows {
                    let ref = ReferenceKernels.dotQ8(Array(wq[(r * n)..<((r + 1) * n)]), scales: Array(ws[(r * n / 32)..<((r + 1) * n / 32)]), xq, scales: xs)
                    #expect(abs(Double(got[r]) - ref) <= 1e-5 * max(1, abs(ref)), "\(isa.name) n=\(n) row \(r): \(got[r]) vs \(ref)")
                }
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func comparisonSumsMatchTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for n in [0, 1, 15, 16, 17, 1023, 1024, 1025, 5000] {
                var rng = SplitMix64(seed: UInt64(n))
                let a = (0..<n).map { _ in rng.nextGaussianish(std: 1) }
                let b = a.enumerated().map { i, x in i % 7 == 0 ? x + rng.nextGaussianish(std: 0.1) : x }
                let got = Kernels.compare(a, b), ref = ReferenceKernels.compare(a, b)
                for k in 0..<5 { #expect(abs(got[k] - ref[k]) <= 1e-5 * max(1, abs(ref[k])), "\(isa.name) n=\(n) sum \(k): \(got[k]) vs \(ref[k])") }
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func siluMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            var gate: [Float] = stride(from: -30.0, through: 30.0, by: 0.0013).map { Float($0) }
            gate += [0, -0, 1e-30, -1e-30, 88, -88, 1e4, -1e4, .leastNormalMagnitude]
            let y = gate.indices.map { Float($0 % 7) - 3 }
            let got = Kernels.siluMul(y, gate: gate)
            var worst: Float = 0
            for i in gate.indices {
                let ref = y[i] * ReferenceKernels.silu(gate[i])
                worst = max(worst, abs(got[i] - ref) / max(1, abs(ref)))
            }
            #expect(worst < 2e-6, "\(isa.name): worst error \(worst)")
        }
    }

    @Test(arguments: KernelISA.available)
    func geluMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            // Dense over the range activations take, plus extremes and special values.
            var x: [Float] = stride(from: -12.0, through: 12.0, by: 0.0007).map { Float($0) }
            x += [0, -0, 1e-30, -1e-30, 30, -30, 1e4, -1e4, .leastNormalMagnitude]
            let got = Kernels.gelu(x)
            var worst: Float = 0
            for (v, g) in zip(x, got) {
                let ref = ReferenceKernels.gelu(v)
                worst = max(worst, abs(g - ref) / max(1, abs(ref)))
            }
            #expect(worst < 2e-6, "\(isa.name): worst error \(worst)")
        }
    }

    /// The prompt kernel against the twin, row by row and token by token: row counts that
    /// leave partial tiles of 16 and 32 rows, token counts that leave partial tiles of 6,
    /// both scale layouts, and the ±127 extremes where the +128 offset trick could overflow.
    /// Rows in each ggml block type with a kernel, as a GGUF stores them: the blocks gguf-py
    /// wrote in quant-types.gguf, and random blocks (finite scales) three super-blocks wide,
    /// against the dequantized values; decoding (one token) and prompts (several).
    @Test(arguments: KernelISA.available)
    func blockRowsMatchTheTwin(_ isa: KernelISA) throws {
        let file = try GGUFFile.open(Fixtures.path("gguf/quant-types.gguf"))
        var rng = SplitMix64(seed: 21)
        for type in GGMLType.allCases where type.blockKernel != nil {
            let fixture = try #require(file.tensors.first { $0.type == type }, "quant-types.gguf has no \(type.name) tensor")
            let (block, bytes) = type.blockLayout
            var random = (0..<(7 * 768 / block * bytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for b in 0..<(random.count / bytes) {
                let d = halfBitsFromFloat(0.001 + Float(rng.next() % 1000) * 1e-5), dmin = halfBitsFromFloat(Float(rng.next() % 1000) * 1e-5)
                let at = b * bytes + ([.q6_K: 208, .q2_K: 80, .q3_K: 108] as [GGMLType: Int])[type, default: 0]
                (random[at], random[at + 1]) = (UInt8(d & 0xFF), UInt8(d >> 8))
                if [.q4_K, .q5_K, .q4_1, .q5_1, .q2_K].contains(type) { (random[at + 2], random[at + 3]) = (UInt8(dmin & 0xFF), UInt8(dmin >> 8)) }
                if type == .q8_0 { for i in (b * bytes + 2)..<(b * bytes + 34) where random[i] == 0x80 { random[i] = 0x81 } }
            }
            for (w, n) in [(Array(file.data(for: fixture)), fixture.dimensions[0]), (random, 768)] {
                let rows = w.count / (n / block * bytes), rowBytes = w.count / rows
                // Activations with a scale per 32, and per 256 where the type's blocks are 256
                // values (as the products give them): its kernels then add a super-block in integers.
                for (T, span) in [(1, 32), (3, 32)] + (block == 256 ? [(1, 256), (3, 256)] : []) {
                    let x = (0..<T).map { t in Kernels.quantizeActivations(Self.vector(n, seed: 30 + UInt64(t), std: 1.5), span: span) }
                    let got = KernelISA.with(isa) { Kernels.productBlocks(w, type: type, rows: rows, x) }
                    for t in 0..<T {
                        for r in 0..<rows {
                            let ref = ReferenceKernels.dotBlocks(Array(w[(r * rowBytes)..<((r + 1) * rowBytes)]), type: type, x[t].q, scales: x[t].scales)
                            #expect(abs(Double(got[t][r]) - ref.value) <= 1e-5 * ref.magnitude,
                                    "\(isa.name) \(type.name) n=\(n) T=\(T) per \(span) t=\(t) r=\(r): \(got[t][r]) vs \(ref.value), Σ|w·x| \(ref.magnitude)")
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func matrixProductsMatchTheTwin(_ isa: KernelISA) throws {
        try KernelISA.with(isa) {
            for (rows, n, T) in [(1, 32, 1), (16, 64, 4), (33, 96, 5), (70, 768, 7), (40, 3072 + 32, 9), (3, 32, 2)] {
                let w = Self.vector(rows * n, seed: 5, std: 0.02)
                var wq: [Int8] = [], ws: [UInt16] = [], rowQ: [Int8] = [], rowScales: [Float] = []
                for r in 0..<rows {
                    let row = Array(w[(r * n)..<(r * n + n)])
                    let blocks = try Q8.kernelBlocks(row), perRow = try Q8.kernelRow(row)
                    wq += blocks.q; ws += blocks.scales
                    rowQ += perRow.q; rowScales.append(perRow.scale)
                }
                var xs = (0..<T).map { Kernels.quantizeActivations(Self.vector(n, seed: 10 + UInt64($0), std: 1.5)) }
                xs[0].q = [Int8](repeating: -127, count: n)
                if T > 1 { xs[1].q = [Int8](repeating: 127, count: n) }
                wq.replaceSubrange(0..<n, with: [Int8](repeating: -127, count: n))
                rowQ.replaceSubrange(0..<n, with: [Int8](repeating: 127, count: n))

                let blocks = Kernels.gemmQ8(wq, scales: ws, rows: rows, xs)
                let perRow = Kernels.gemmQ8Row(rowQ, scales: rowScales, xs)
                for t in 0..<T {
                    for r in 0..<rows {
                        let bw = Array(wq[(r * n)..<(r * n + n)]), rw = Array(rowQ[(r * n)..<(r * n + n)])
                        let ref = ReferenceKernels.dotQ8(bw, scales: Array(ws[(r * n / 32)..<((r + 1) * n / 32)]), xs[t].q, scales: xs[t].scales)
                        #expect(abs(Double(blocks[t][r]) - ref) <= 1e-5 * max(1, abs(ref)), "\(isa.name) q8 \(rows)×\(n) t=\(t) r=\(r): \(blocks[t][r]) vs \(ref)")
                        let rowRef = ReferenceKernels.dotQ8Row(rw, scale: rowScales[r], xs[t].q, scales: xs[t].scales)
                        #expect(abs(Double(perRow[t][r]) - rowRef) <= 1e-5 * max(1, abs(rowRef)), "\(isa.name) q8-row \(rows)×\(n) t=\(t) r=\(r)")
                    }
                }
            }
        }
    }

    /// The float prompt kernel against the twin's dot products, for f32, f16 and bf16
    /// weights: partial tiles of rows (16, 32) and tokens (6), widths with a column tail.
    @Test(arguments: KernelISA.available)
    func floatMatrixProductsMatchTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (rows, n, T) in [(1, 16, 1), (16, 64, 6), (33, 96, 7), (70, 768, 13), (40, 200, 5), (3, 7, 2)] {
                let w = Self.vector(rows * n, seed: 50, std: 0.05)
                let x = (0..<T).map { Self.vector(n, seed: 60 + UInt64($0)) }
                let h = w.map(halfBitsFromFloat), b = w.map(bfloat16BitsFromFloat)
                let results = [("f32", Kernels.gemmF32(w, rows: rows, x)), ("f16", Kernels.gemmF16(h, rows: rows, x)), ("bf16", Kernels.gemmBF16(b, rows: rows, x))]
                for (name, got) in results {
                    var worst = 0.0
                    for t in 0..<T {
                        for r in 0..<rows {
                            let ref: Double
                            switch name {
                            case "f16": ref = ReferenceKernels.dotF16(Array(h[(r * n)..<(r * n + n)]), x[t])
                            case "bf16": ref = ReferenceKernels.dotBF16(Array(b[(r * n)..<(r * n + n)]), x[t])
                            default: ref = ReferenceKernels.dotF32(Array(w[(r * n)..<(r * n + n)]), x[t])
                            }
                            worst = max(worst, abs(Double(got[t][r]) - ref))
                        }
                    }
                    #expect(worst < 1e-5 * Double(n).squareRoot() * 4, "\(isa.name) \(name) \(rows)×\(n) T=\(T): worst error \(worst)")
                }
            }
        }
    }

    /// Head widths with and without a vector tail, position counts around the 8-wide
    /// groups, scores far apart (a softmax that is nearly one-hot), and Gemma 2's soft cap
    /// (which must change the result: the far-apart scores are well past the cap).
    @Test(arguments: KernelISA.available)
    func attentionMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (dh, count, spread) in [(64, 1, Float(1)), (64, 7, 1), (64, 8, 1), (64, 131, 1), (128, 20, 1), (12, 9, 1), (64, 40, 30)] {
                let q = Self.vector(dh, seed: 30, std: spread)
                let keys = (0..<count).map { Self.vector(dh, seed: 100 + UInt64($0), std: spread) }
                let values = (0..<count).map { Self.vector(dh, seed: 500 + UInt64($0)) }
                let scale = 1 / Float(dh).squareRoot()
                for cap: Float in [0, 5] {
                    let got = Kernels.attend(q, keys: keys, values: values, scale: scale, cap: cap)
                    let ref = ReferenceKernels.attend(q, keys: keys, values: values, scale: scale, cap: cap)
                    let worst = zip(got, ref).map { abs(Double($0) - $1) }.max() ?? 0
                    #expect(worst < 2e-5, "\(isa.name) dh=\(dh) count=\(count) cap=\(cap): worst error \(worst)")
                }
                if spread > 1 {
                    let uncapped = Kernels.attend(q, keys: keys, values: values, scale: scale)
                    let capped = Kernels.attend(q, keys: keys, values: values, scale: scale, cap: 5)
                    #expect(zip(uncapped, capped).map { abs($0 - $1) }.max()! > 1e-3)
                }
            }
        }
    }

    /// A prompt's queries at once (each key read once for up to 32 of them, the softmax
    /// online over tiles of keys) give what the twin gives for each query alone: causal
    /// ranges that grow by one, sliding windows, more than a tile of keys, more queries than
    /// a kernel takes, widths with and without a tail, a soft cap, f32 and f16 caches.
    @Test(arguments: KernelISA.available)
    func promptAttentionMatchesTheTwinPerQuery(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (dh, first, n, window, spread) in [(64, 0, 8, Int?.none, Float(1)), (64, 130, 8, nil, 1), (16, 60, 5, 8, 1), (128, 0, 3, nil, 1),
                                                   (64, 200, 8, 70, 30), (12, 3, 2, nil, 1), (64, 20, 45, nil, 1), (80, 90, 33, 50, 1),
                                                   (256, 0, 17, nil, 1), (48, 5, 32, nil, 4), (40, 33, 20, nil, 1),
                                                   (24, 0, 9, 6, 1)] {
                let total = first + n
                let keys = (0..<total).map { Self.vector(dh, seed: 900 + UInt64($0), std: spread) }
                let values = (0..<total).map { Self.vector(dh, seed: 1900 + UInt64($0)) }
                let queries = (0..<n).map { Self.vector(dh, seed: 40 + UInt64($0), std: spread) }
                let ranges = (0..<n).map { i -> Range<Int> in
                    let end = first + i + 1
                    return (window.map { max(0, end - $0) } ?? 0)..<end
                }
                let scale = 1 / Float(dh).squareRoot()
                for (cap, f16): (Float, Bool) in [(0, false), (5, false), (0, true)] {
                    let got = Kernels.attendQueries(queries, keys: keys, values: values, ranges: ranges, scale: scale, cap: cap, f16: f16)
                    for i in 0..<n {
                        let widen = { (v: [Float]) in f16 ? v.map { floatFromHalfBits(halfBitsFromFloat($0)) } : v }
                        let ref = ReferenceKernels.attend(queries[i], keys: keys[ranges[i]].map(widen), values: values[ranges[i]].map(widen), scale: scale, cap: cap)
                        let worst = zip(got[i], ref).map { abs(Double($0) - $1) }.max() ?? 0
                        #expect(worst < 2e-5, "\(isa.name) dh=\(dh) query \(i) of \(n) at \(ranges[i]) cap=\(cap) f16=\(f16): worst error \(worst)")
                    }
                }
            }
        }
    }

    /// Keys and values kept as f16 (the KV cache's default) give what the twin gives for
    /// their widened values.
    @Test(arguments: KernelISA.available)
    func f16AttentionMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (dh, count) in [(64, 1), (64, 9), (64, 131), (128, 20), (12, 9)] {
                let q = Self.vector(dh, seed: 31)
                let keys = (0..<count).map { Self.vector(dh, seed: 200 + UInt64($0)).map(halfBitsFromFloat) }
                let values = (0..<count).map { Self.vector(dh, seed: 700 + UInt64($0)).map(halfBitsFromFloat) }
                let scale = 1 / Float(dh).squareRoot()
                let got = Kernels.attendF16(q, keys: keys, values: values, scale: scale)
                let ref = ReferenceKernels.attend(q, keys: keys.map { $0.map(floatFromHalfBits) }, values: values.map { $0.map(floatFromHalfBits) }, scale: scale)
                let worst = zip(got, ref).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst < 2e-5, "\(isa.name) dh=\(dh) count=\(count): worst error \(worst)")
            }
        }
    }

    /// Keys and values kept as Q8_0 blocks (the q8 KV cache) give what the twin gives for
    /// the values the blocks hold (gguf-py's dequantization, done in Swift).
    @Test(arguments: KernelISA.available)
    func q8AttentionMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (dh, count) in [(64, 1), (64, 9), (64, 131), (128, 20), (32, 40)] {
                let q = Self.vector(dh, seed: 32)
                let keys = (0..<count).map { Self.vector(dh, seed: 300 + UInt64($0)) }, values = (0..<count).map { Self.vector(dh, seed: 800 + UInt64($0)) }
                let scale = 1 / Float(dh).squareRoot()
                let got = Kernels.attendQ8(q, keys: keys, values: values, scale: scale)
                let ref = ReferenceKernels.attend(q, keys: got.keys, values: got.values, scale: scale)
                let worst = zip(got.out, ref).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst < 2e-5, "\(isa.name) dh=\(dh) count=\(count): worst error \(worst)")
                // The blocks hold the values within a step of max/127 each.
                let step = keys[0].map(abs).max()! / 127
                #expect(zip(got.keys[0], keys[0]).allSatisfy { abs($0 - $1) <= step * 0.51 })
            }
        }
    }

    /// Shapes with whole 16 × 16 tiles, ragged edges on either side, and a single row.
    @Test(arguments: KernelISA.available)
    func transposeMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (rows, cols) in [(16, 16), (64, 48), (17, 33), (1, 20), (35, 16), (768, 80)] {
                let x = Self.vector(rows * cols, seed: 40)
                #expect(Kernels.transpose(x, rows: rows, cols: cols) == ReferenceKernels.transpose(x, rows: rows, cols: cols), "\(isa.name) \(rows)×\(cols)")
            }
        }
    }

    /// Transposing and quantizing in one pass gives the bytes of transposing, then
    /// quantizing each row; a failure is reported at its place in the source.
    @Test(arguments: KernelISA.available)
    func columnQuantizationMatchesTransposeThenQuantize(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for (rows, cols) in [(32, 16), (96, 40), (64, 7), (768, 48)] {
                let x = Self.vector(rows * cols, seed: 70, std: 0.1)
                let got = Kernels.quantizeColumns(x, rows: rows, cols: cols)
                let t = ReferenceKernels.transpose(x, rows: rows, cols: cols)
                var q: [Int8] = [], scales: [UInt16] = []
                for c in 0..<cols {
                    let r = Q8.referenceBlocks(Array(t[(c * rows)..<(c * rows + rows)]))
                    q += r.q; scales += r.scales
                }
                #expect(got.failure == -1 && got.q == q && got.scales == scales, "\(isa.name) \(rows)×\(cols)")
                var bad = x
                bad[(rows - 3) * cols + cols - 2] = .nan
                #expect(Kernels.quantizeColumns(bad, rows: rows, cols: cols).failure == (rows - 3) * cols + cols - 2, "\(isa.name) \(rows)×\(cols)")
            }
        }
    }

    /// GGUF's Q8_0 (ggml's rounding, not q8's) against the twin: rows, including an all-zero
    /// block and halves at scale 1, and bands of a transposed matrix with ragged edges.
    @Test(arguments: KernelISA.available)
    func ggmlQ8_0MatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            for n in Self.lengths {
                var x = Self.vector(n, seed: 80, std: 0.05)
                if n >= 64 {
                    for i in 0..<32 { x[i] = 0 }
                    for i in 32..<64 { x[i] = Float(i - 48) + 0.5 }
                    x[40] = 127
                }
                let got = Kernels.quantizeGGML(x)
                #expect(got.failure == -1 && got.blocks == Q8.referenceGGMLBlocks(x), "\(isa.name) n=\(n)")
                var bad = x
                bad[n - 5] = .infinity
                #expect(Kernels.quantizeGGML(bad).failure == n - 5, "\(isa.name) n=\(n)")
                bad = x
                bad[n - 5] = 9e6  // a scale beyond f16: the block is refused
                #expect(Kernels.quantizeGGML(bad).failure == (n - 5) / 32 * 32, "\(isa.name) n=\(n)")
            }
            for (rows, cols, columns) in [(32, 16, 0..<16), (96, 40, 0..<40), (64, 48, 5..<43), (768, 48, 16..<32), (64, 7, 2..<7)] {
                let x = Self.vector(rows * cols, seed: 81, std: 0.1)
                let t = ReferenceKernels.transpose(x, rows: rows, cols: cols)
                var want = [UInt8](repeating: 0, count: rows * cols / 32 * 34)
                let rowBytes = rows / 32 * 34
                for c in columns {
                    want.replaceSubrange((c * rowBytes)..<((c + 1) * rowBytes), with: Q8.referenceGGMLBlocks(Array(t[(c * rows)..<((c + 1) * rows)])))
                }
                let got = Kernels.quantizeGGMLColumns(x, rows: rows, cols: cols, columns: columns)
                #expect(got.failure == -1 && got.blocks == want, "\(isa.name) \(rows)×\(cols) \(columns)")
                var bad = x
                bad[(rows - 3) * cols + columns.upperBound - 1] = .nan
                #expect(Kernels.quantizeGGMLColumns(bad, rows: rows, cols: cols, columns: columns).failure == (rows - 3) * cols + columns.upperBound - 1,
                        "\(isa.name) \(rows)×\(cols) \(columns)")
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func activationQuantizationMatchesTheTwin(_ isa: KernelISA) {
        KernelISA.with(isa) {
            // Values at exact halves of the scale, where rounding direction shows.
            var x = Self.vector(4096, seed: 21, std: 3)
            for i in stride(from: 0, to: x.count, by: 32) { x[i] = 127; x[i + 1] = 0.5; x[i + 2] = -1.5; x[i + 3] = 2.5 }
            x.replaceSubrange(64..<96, with: [Float](repeating: 0, count: 32))
            x.replaceSubrange(96..<128, with: [Float](repeating: Float(bitPattern: 0x8001_1000), count: 32))  // subnormals
            for span in [32, 256] {  // a scale per 32 values, and per 256 (the K types' products)
                let got = Kernels.quantizeActivations(x, span: span), twin = ReferenceKernels.quantizeActivations(x, span: span)
                #expect(got.q == twin.q, "\(isa.name) per \(span)")
                #expect(got.scales == twin.scales, "\(isa.name) per \(span)")
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func quantizationMatchesTheTwins(_ isa: KernelISA) throws {
        try KernelISA.with(isa) {
            for row in QuantizationTests.randomRows(8, 256, seed: 7) {
                let kernel = try Q8.kernelBlocks(row)
                let twin = Q8.referenceBlocks(row)
                #expect(kernel.q == twin.q, "\(isa.name)")
                #expect(kernel.scales == twin.scales, "\(isa.name)")
                let kr = try Q8.kernelRow(row)
                let tr = Q8.referenceRow(row)
                #expect(kr.q == tr.q && kr.scale == tr.scale, "\(isa.name)")
            }
        }
    }

    /// The variant detected at start-up is the best the CPU's flags (from /proc/cpuinfo) allow.
    @Test func theBestVariantIsDetected() throws {
        let info = String(decoding: try readWholeFile("/proc/cpuinfo"), as: UTF8.self)
        guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        let avx2 = flags.isSuperset(of: ["avx2", "fma", "f16c"])
        let vnni = avx2 && flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"])
        #expect(KernelISA.detected == (vnni ? .avx512VNNI : (avx2 ? .avx2 : .portable)))
        #expect(KernelISA.available.first == .portable)
    }
}
