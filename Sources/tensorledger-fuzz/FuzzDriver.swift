// libFuzzer driver for TensorLedger's parsers (built by scripts/fuzz.sh with
// -sanitize=fuzzer,address and -DFUZZING). Without FUZZING it replays files:
//   tensorledger-fuzz TARGET FILE...
// The target comes from the TL_FUZZ_TARGET environment variable when fuzzing.

import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

nonisolated(unsafe) var scratch = ""

func setUp() -> FuzzTarget {
    var template = Array("/tmp/tensorledger-fuzz-XXXXXX".utf8CString)
    scratch = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    FuzzTarget.prepareScratch(scratch)
    return FuzzTarget(rawValue: String(cString: getenv("TL_FUZZ_TARGET") ?? strdup("json"))) ?? .json
}

#if FUZZING
nonisolated(unsafe) var target: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if target == nil { target = setUp() }
    target!.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data!, count: size)), scratch: scratch)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// SwiftPM links an executable's entry point under this name; hand control to libFuzzer.
@_cdecl("tensorledger_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var count = argc
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzOne)
}
#else
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let t = FuzzTarget(rawValue: name) else {
            print("usage: tensorledger-fuzz {\(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))} FILE...")
            exit(2)
        }
        _ = setUp()
        for path in args.dropFirst() {
            guard let bytes = try? readWholeFile(path) else { print("\(path): unreadable"); continue }
            print("\(path): \(t.run(bytes, scratch: scratch))")
        }
    }
}
#endif
