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

    @Test(arguments: KernelISA.available)
    func fourTokenDotMatchesTheTwin(_ isa: KernelISA) throws {
        try KernelISA.with(isa) {
            for n in Self.lengths {
                let (wq, ws) = try Q8.kernelBlocks(Self.vector(n, seed: 5, std: 0.02))
                let xs = (0..<4).map { Kernels.quantizeActivations(Self.vector(n, seed: 10 + UInt64($0), std: 1.5)) }
                let got = Kernels.dotQ8x4(wq, scales: ws, xs.map(\.q), scales: xs.map(\.scales))
                for k in 0..<4 {
                    let ref = ReferenceKernels.dotQ8(wq, scales: ws, xs[k].q, scales: xs[k].scales)
                    #expect(abs(Double(got[k]) - ref) <= 1e-5 * max(1, abs(ref)), "\(isa.name) n=\(n) k=\(k): \(got[k]) vs \(ref)")
                }
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
