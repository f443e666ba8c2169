// The atomic writer's two ways of writing (through the page cache, and a streaming file
// around it in whole blocks) must put the same bytes in the same places.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct AtomicFileTests {
    /// Writes of every size (one byte, a block and a half, more than the 8 MiB buffer), padding,
    /// and patches at the start and at an odd place after everything: the file holds what
    /// was written, both ways, on a disk file system and (where there is one) in memory.
    @Test(arguments: [false, true])
    func streamingWritesTheSameBytes(_ streaming: Bool) throws {
        var directories = [TemporaryDirectory()]
        if pathKind("/dev/shm") == .directory { directories.append(TemporaryDirectory(in: "/dev/shm")) }
        for dir in directories {
            var rng = SplitMix64(seed: 7)
            var expected: [UInt8] = []
            let out = try AtomicFileWriter(path: dir.file("out.bin"), overwrite: false, streaming: streaming)
            for size in [1, 6_143, 4_096, 9 << 20, 3, 100_000, 5] {
                let words = (0...size / 8).map { _ in rng.next() }
                let bytes = words.withUnsafeBytes { Array($0.prefix(size)) }
                try out.write(bytes)
                expected += bytes
                try out.pad(toMultipleOf: 32)
                while expected.count % 32 != 0 { expected.append(0) }
                #expect(out.offset == expected.count)
            }
            try out.patch([1, 2, 3, 4], at: 0)
            try out.patch([9, 9, 9], at: 10_001)
            expected.replaceSubrange(0..<4, with: [1, 2, 3, 4])
            expected.replaceSubrange(10_001..<10_004, with: [9, 9, 9])
            try out.commit()
            let written = try readWholeFile(dir.file("out.bin"))
            #expect(written.count == expected.count && written == expected, "\(dir.path), streaming \(streaming)")
        }
    }
}
