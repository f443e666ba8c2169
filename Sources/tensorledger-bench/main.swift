// tensorledger-bench: makes its own inputs (GPT-2-shaped checkpoints from a fixed seed),
// measures this machine's memory bandwidth, then times the `tensorledger` binary beside
// it, whole process, several runs each, and prints one table. Figures in
// docs/PERFORMANCE.md come from it. Run through benchmarks/run.sh (release build).
//
// Usage: tensorledger-bench [--quick] [--work DIR] [--runs N] [--vocab GGUF]
//        (and, for its own use, tensorledger-bench --make-sharded SOURCE DIR COUNT)

import CKernels
import Dispatch
import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Arguments

var arguments = Array(CommandLine.arguments.dropFirst())
let usage = "usage: tensorledger-bench [--quick] [--work DIR] [--runs N] [--vocab GGUF]\n"
// Anything else is refused before a model is made: the full run writes gigabytes.
do {
    var i = 0
    while i < arguments.count {
        switch arguments[i] {
        case "--help", "-h": Console.writeOut(usage); exit(0)
        case "--quick": i += 1
        case let name where ["--work", "--runs", "--vocab"].contains(name) && i + 1 < arguments.count: i += 2
        case "--make-sharded" where i + 3 < arguments.count: i += 4
        default: Console.writeErr("tensorledger-bench: unexpected argument '\(arguments[i])'\n" + usage); exit(2)
        }
    }
}
let quick = arguments.contains("--quick")
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let binDir = parentDirectory(CommandLine.arguments[0])
let tl = joinPath(binDir, "tensorledger")
let work = option("--work") ?? "benchmarks/work"
let runs: Int = {
    guard let text = option("--runs") else { return quick ? 3 : 7 }
    guard let n = Int(text), n > 0 else { Console.writeErr("tensorledger-bench: --runs takes a positive count, not '\(text)'\n"); exit(2) }
    return n
}()
let anchor = option("--vocab") ?? "fixtures/vocab/ggml-vocab-gpt-2.gguf"

// MARK: Processes

/// Runs the tensorledger binary (or another) with `args`; stderr is kept only for failures.
func spawn(_ args: [String], executable: String = tl) -> ChildProcess.Result {
    guard let r = ChildProcess.run(executable, args) else { fatalError("cannot run \(executable): build it first (benchmarks/run.sh does)") }
    return r
}

func mustRun(_ args: [String]) -> ChildProcess.Result {
    let r = spawn(args)
    if r.status != 0 { fatalError("tensorledger \(args.joined(separator: " ")) failed with status \(r.status)") }
    return r
}

func jsonOf(_ r: ChildProcess.Result) -> JSONObject { (try? JSON.parse(r.stdout))?.object ?? JSONObject() }

// MARK: Statistics and the table

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

var table = TextTable(headers: ["Measurement", "Median", "Best", "Unit", "Peak RSS", "Notes"],
                      alignments: [.left, .right, .right, .left, .right, .left])
func record(_ name: String, _ values: [Double], unit: String, higherIsBetter: Bool, rssKiB: Int? = nil, notes: String = "") {
    let best = higherIsBetter ? values.max()! : values.min()!
    let digits = unit == "ms" ? 1 : (median(values) >= 100 ? 0 : 1)
    table.add([name, formatFixed(median(values), digits), formatFixed(best, digits), unit,
               rssKiB.map { formatFixed(Double($0) / 1024, 0) + " MiB" } ?? "", notes])
    Console.writeErr("  \(name): \(formatFixed(median(values), digits)) \(unit)\n")
}

// MARK: Machine

func machineLine() -> String {
    let cpuinfo = (try? readWholeFile("/proc/cpuinfo")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last.map { String($0).trimmed } ?? "unknown CPU"
    let date = spawnDate()
    let load = (try? readWholeFile("/proc/loadavg")).map { String(decoding: $0, as: UTF8.self).split(separator: " ").prefix(3).joined(separator: " ") } ?? "?"
    return "\(date), \(model), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, kernels: \(KernelISA.detected.name), load average \(load)"
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " || s.last == "\n" { s.removeLast() }
        return String(s)
    }
}

/// Today's date in UTC, YYYY-MM-DD.
func spawnDate() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))"
}

/// Read bandwidth in GB/s from `threads` threads over a 512 MiB buffer (best of 5).
/// Best of five reads of an n-byte buffer, split across the threads.
func readBandwidth(threads: Int, bytes: Int = 512 << 20) -> Double {
    let n = bytes / 256 / threads * 256 * threads
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
    defer { buffer.deallocate() }
    memset(buffer, 1, n)
    var best = 0.0
    let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: threads)
    defer { sink.deallocate() }
    for _ in 0..<5 {
        let clock = Stopwatch()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let part = n / threads / 256 * 256
            sink[t] = tl_read_sum(buffer + t * part, part)
        }
        best = max(best, Double(n) / clock.seconds / 1e9)
    }
    return best
}

// MARK: Inputs

/// `preset` names a preset, or a config.json when it ends in .json; `dtype` the weights' type.
func ensureModel(_ name: String, preset: String, sparse: Bool = false, tokenizer: String = anchor, dtype: String = "f32") -> String {
    let dir = joinPath(work, name)
    if pathKind(joinPath(dir, "model.safetensors")) != .file {
        Console.writeErr("making \(dir) (\(preset), seed 42)\n")
        var args = ["synth", dir, preset.hasSuffix(".json") ? "--config" : "--preset", preset, "--dtype", dtype, "--force"]
        if sparse { args.append("--sparse") } else { args += ["--tokenizer", tokenizer] }
        _ = mustRun(args)
    }
    return dir
}

/// The same checkpoint split into `count` shards with a model.safetensors.index.json, as
/// Hugging Face writes large models. Made by a child process (this binary again), since a
/// child's peak RSS as wait4 reports it starts from its parent's peak.
func ensureSharded(_ source: String, count: Int) -> String {
    let dir = source + "-sharded"
    if pathKind(joinPath(dir, "model.safetensors.index.json")) == .file { return dir }
    Console.writeErr("making \(dir) (\(count) shards)\n")
    if spawn(["--make-sharded", source, dir, String(count)], executable: CommandLine.arguments[0]).status != 0 {
        Console.writeErr("error: could not make \(dir)\n")
        exit(1)
    }
    return dir
}

func makeSharded(_ source: String, _ dir: String, count: Int) {
    do {
        try? makeDirectory(dir)
        let file = try SafetensorsFile(path: joinPath(source, "model.safetensors"))
        let tensors = file.tensors
        var weightMap = JSONObject()
        for k in 0..<count {
            let name = "model-\(String(k + 1).leftPadded(5))-of-\(String(count).leftPadded(5)).safetensors"
            let part = Array(tensors[(tensors.count * k / count)..<(tensors.count * (k + 1) / count)])
            for t in part { weightMap[t.name] = .string(name) }
            try SafetensorsWriter.write(path: joinPath(dir, name), tensors: part.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                        overwrite: true) { spec, raw in
                raw.copyMemory(from: file.data(for: part.first { $0.name == spec.name }!))
            }
        }
        var o = JSONObject()
        var metadata = JSONObject()
        metadata["total_size"] = .int(tensors.reduce(0) { $0 + $1.byteCount })
        o["metadata"] = .object(metadata)
        o["weight_map"] = .object(weightMap)
        for (name, bytes) in [("config.json", try readWholeFile(joinPath(source, "config.json"))), ("model.safetensors.index.json", Array(JSONValue.object(o).serialized().utf8))] {
            let w = try AtomicFileWriter(path: joinPath(dir, name), overwrite: true)
            try w.write(bytes)
            try w.commit()
        }
    } catch {
        Console.writeErr("error: making \(dir): \(error)\n")
        exit(1)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

// MARK: Main

if let i = arguments.firstIndex(of: "--make-sharded"), i + 3 < arguments.count {
    makeSharded(arguments[i + 1], arguments[i + 2], count: Int(arguments[i + 3]) ?? 4)
    exit(0)
}

try? makeDirectory(work)
Console.writeErr("TensorLedger benchmark: \(runs) runs each\n")
let machine = machineLine()
// The bandwidth probe touches 512 MiB; it runs last, since a child's peak RSS as the
// kernel reports it starts from its parent's.

let small = ensureModel("gpt2-124m", preset: "gpt2")
let medium = quick ? nil : ensureModel("gpt2-355m", preset: "gpt2-medium")
let huge = ensureModel("gpt3-175b-header", preset: "gpt3-175b", sparse: true)
// SmolLM2-135M's shape (LLaMA family: 30 layers, width 576, 9 heads over 3 key/value heads),
// with a SmolLM-style tokenizer: llama.cpp's reference figures are for this shape.
let smol = ensureModel("smollm2-135m", preset: "smollm2-135m", tokenizer: "fixtures/tokenizers/smollm-style.json")
let sharded = ensureSharded(small, count: 4)

// Header-only commands (and report, with and without its quantization pass), whole process.
for (label, args) in [("ledger, GPT-2 124M", ["ledger", small]), ("inspect, GPT-2 124M", ["inspect", small]),
                      ("ledger, GPT-2 124M in 4 shards", ["ledger", sharded]), ("inspect, GPT-2 124M in 4 shards", ["inspect", sharded]),
                      ("ledger, GPT-3 175B header", ["ledger", huge]),
                      ("report, GPT-2 124M, without the quantization pass", ["report", small, "--weights", "none", "--json"]),
                      ("report, GPT-2 124M, with the Q4_K_M pass", ["report", small, "--json"])] {
    var times: [Double] = []
    var rss = 0
    for _ in 0..<max(runs, 5) {
        let r = mustRun(args)
        times.append(r.seconds * 1000)
        rss = max(rss, r.peakRSSKiB)
    }
    record(label, times, unit: "ms", higherIsBetter: false, rssKiB: rss)
}
let ledgerJSON = jsonOf(mustRun(["ledger", small, "--json"]))
let total = ledgerJSON["totals"]?.object?["unique_parameters"]?.int ?? 0
Console.writeErr("  ledger rows add up to \(formatCount(total)) parameters\n")

// Conversion to q8, whole process.
func largestTensorBytes(_ dir: String) -> Int {
    let inspect = jsonOf(mustRun(["inspect", dir, "--json"]))
    return inspect["tensors"]?.array?.compactMap { t -> Int? in
        guard let o = t.object?["data_offsets"]?.array, o.count == 2 else { return nil }
        return o[1].int! - o[0].int!
    }.max() ?? 0
}
// The conversions take turns, run after run, so the machine's noise falls on all of them
// alike and the GGUF ÷ .tlm ratio compares like with like; at least nine runs each (they
// are short, and the spread between runs is wide here).
let conversions = [("convert to q8, GPT-2 124M", small, "bench.tlm"), ("convert to GGUF Q8_0, GPT-2 124M", small, "bench.gguf"),
                   ("convert to q8, GPT-2 355M", medium, "bench-355m.tlm")].compactMap { label, dir, file in dir.map { (label, $0, file) } }
var speeds = [[Double]](repeating: [], count: conversions.count), peaks = [Int](repeating: 0, count: conversions.count)
for _ in 0..<max(runs, 9) {
    for (k, (_, dir, file)) in conversions.enumerated() {
        // A new file each run, as a conversion usually makes: replacing an existing output
        // adds the time the file system takes to free the old one (~40 ms for 130 MB here).
        let out = joinPath(work, file)
        unlink(out)
        let r = mustRun(["convert", dir, out, "--json"])
        speeds[k].append(Double(jsonOf(r)["input_bytes"]!.int!) / r.seconds / 1e6)
        peaks[k] = max(peaks[k], r.peakRSSKiB)
    }
}
for (k, (label, dir, _)) in conversions.enumerated() {
    let largest = largestTensorBytes(dir)
    var notes = "whole process; largest tensor \(formatFixed(Double(largest) / 1_048_576, 0)) MiB, RSS - largest = \(formatFixed(Double(peaks[k]) / 1024 - Double(largest) / 1_048_576, 0)) MiB"
    if label.contains("GGUF") { notes += "; \(formatFixed(median(speeds[k]) / median(speeds[0]), 2))× .tlm" }
    record(label, speeds[k], unit: "MB/s", higherIsBetter: true, rssKiB: peaks[k], notes: notes)
}

// Generation and prompt processing.
let q8 = joinPath(work, "gpt2-124m-q8.tlm"), f16 = joinPath(work, "gpt2-124m-f16.tlm"), f32 = joinPath(work, "gpt2-124m-f32.tlm")
let smolQ8 = joinPath(work, "smollm2-135m-q8.tlm")
_ = mustRun(["convert", small, q8, "--force"])
_ = mustRun(["convert", smol, smolQ8, "--force"])
_ = mustRun(["convert", small, f16, "--force", "--weights", "f16", "--no-compress"])
_ = mustRun(["convert", small, f32, "--force", "--weights", "f32", "--no-compress"])
// Prompts of about 128 tokens under each model's tokenizer (the exact count is what the runner reports).
let promptText = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 12) + "The quick brown fox"
let smolPromptText = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 4) + "The quick brown"
var generation: [(label: String, tokensPerSecond: [Double], bytesPerToken: Double, threads: Int, rss: Int)] = []
for (scheme, file, prompt) in [("q8", q8, promptText), ("f16", f16, promptText), ("f32", f32, promptText),
                               ("SmolLM2-135M q8", smolQ8, smolPromptText)] {
    for threads in [1, 2] {
        var gen: [Double] = [], pp: [Double] = []
        var rss = 0, promptTokens = 0, perToken = 0.0
        for _ in 0..<runs {
            let r = mustRun(["run", file, "--prompt", "Hello", "-n", "128", "--temperature", "0", "--threads", String(threads), "--json"])
            let o = jsonOf(r)
            gen.append(o["generation_tokens_per_second"]!.number!)
            perToken = o["weight_bytes_per_token"]!.number!
            rss = max(rss, r.peakRSSKiB)
            let p = jsonOf(mustRun(["run", file, "--prompt", prompt, "-n", "1", "--threads", String(threads), "--json"]))
            pp.append(p["prompt_tokens_per_second"]!.number!)
            promptTokens = p["prompt_ids"]!.array!.count
        }
        let label = "\(scheme) generation, \(threads) thread\(threads > 1 ? "s" : "")"
        generation.append((label, gen, perToken, threads, rss))
        record("\(scheme) prompt, \(promptTokens) tokens, \(threads) thread\(threads > 1 ? "s" : "")", pp, unit: "tokens/s", higherIsBetter: true)
    }
}
// llama.cpp beside us, when llama-cpp-python is installed (scripts/check-llamacpp.sh installs
// it): the same GGUF files run by both in this run, runs interleaved. SmolLM2-135M's shape in
// Q8_0 (written by us) and in llama.cpp's Q4_K_M (made by its own quantizer from our F16
// file; rows of 576 are not a multiple of 256, so it is mostly Q5_0); in the full run also
// Llama-3.2-1B's shape in Q8_0 and Q4_K_M, where decoding is bound by memory bandwidth.
/// Ours beside llama.cpp's: two rows in tokens/s, ours with the ratio of the medians.
func recordBeside(_ label: String, ours: [Double], theirs: [Double], notes: String) {
    record("\(label): llama.cpp", theirs, unit: "tokens/s", higherIsBetter: true, notes: notes)
    record("\(label): TensorLedger", ours, unit: "tokens/s", higherIsBetter: true, notes: "\(formatFixed(median(ours) / median(theirs), 2))× llama.cpp")
}
let llamaCppScript = """
import sys, time
import numpy as np
from llama_cpp import Llama
path, threads, prompt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
llm = Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
ids = llm.tokenize(prompt.encode())
t0 = time.perf_counter(); llm.eval(ids); t1 = time.perf_counter()
llm.reset(); llm.eval(llm.tokenize(b"Hello"))
t2 = time.perf_counter()
for _ in range(128):
    llm.eval([int(np.argmax(llm.scores[llm.n_tokens - 1]))])
t3 = time.perf_counter()
print(len(ids) / (t1 - t0), 128 / (t3 - t2))
"""
/// llama.cpp's prompt of n ids, then 32 tokens decoded after it: both in tokens/s.
let llamaDepthScript = """
import sys, time
import numpy as np
from llama_cpp import Llama
path, n = sys.argv[1], int(sys.argv[2])
llm = Llama(model_path=path, n_ctx=n + 64, n_batch=512, n_threads=2, n_threads_batch=2, verbose=False)
ids = [(i * 37 + 11) % 800 + 3 for i in range(n)]
t0 = time.perf_counter(); llm.eval(ids); t1 = time.perf_counter()
for _ in range(32):
    llm.eval([int(np.argmax(llm.scores[(llm.n_tokens - 1) % len(llm.scores)]))])
t2 = time.perf_counter()
print(n / (t1 - t0), 32 / (t2 - t1))
"""
let llamaQuantizeScript = """
import ctypes, sys, llama_cpp
p = llama_cpp.llama_model_quantize_default_params(); p.ftype = int(sys.argv[3]); p.nthread = 2
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))
"""
func python(_ args: [String]) -> ChildProcess.Result { spawn(["python3"] + args, executable: "/usr/bin/env") }
/// `checkpoint` as a GGUF file: Q8_0 written by us, or (a llama_ftype) quantized by
/// llama.cpp from our F16 file; kept in benchmarks/work/ once made.
func ggufFile(_ checkpoint: String, _ name: String, llamaFtype: Int? = nil) -> String? {
    let out = joinPath(work, name)
    if pathKind(out) == .file { return out }
    guard let ftype = llamaFtype else {
        _ = mustRun(["convert", checkpoint, out, "--force"])
        return out
    }
    let f16 = joinPath(work, lastPathComponent(checkpoint) + "-f16.gguf")
    if pathKind(f16) != .file { _ = mustRun(["convert", checkpoint, f16, "--weights", "f16", "--no-compress", "--force"]) }
    Console.writeErr("making \(out) with llama.cpp's quantizer\n")
    return python(["-c", llamaQuantizeScript, f16, out, String(ftype)]).status == 0 ? out : nil
}
if python(["-c", "import llama_cpp"]).status == 0 {
    let q4km = 15  // LLAMA_FTYPE_MOSTLY_Q4_K_M
    var files: [(label: String, path: String?, prompt: String, threads: [Int])] = [
        ("SmolLM2-135M Q8_0", ggufFile(smol, "smollm2-135m-q8_0.gguf"), smolPromptText, [1, 2]),
        ("SmolLM2-135M Q4_K_M", ggufFile(smol, "smollm2-135m-q4_k_m.gguf", llamaFtype: q4km), smolPromptText, [2]),
    ]
    if !quick {
        let billion = ensureModel("llama-3.2-1b", preset: "llama-3.2-1b", tokenizer: "fixtures/tokenizers/smollm-style.json")
        files += [("Llama-3.2-1B shape Q8_0", ggufFile(billion, "llama-3.2-1b-q8_0.gguf"), smolPromptText, [2]),
                  ("Llama-3.2-1B shape Q4_K_M", ggufFile(billion, "llama-3.2-1b-q4_k_m.gguf", llamaFtype: q4km), smolPromptText, [2])]
        // Each family at a real model's shape (a mixture at a small one of its own), Q8_0
        // written by us (llama.cpp's converter needs torch); random f16 weights, seed 42.
        // Phi-3 with its own vocabulary: llama.cpp's SentencePiece loader needs the byte
        // tokens ("<0x0A>") the bench's small vocabulary lacks.
        let small = "fixtures/tokenizers/smollm-style.json"
        for (label, preset, tokenizer) in [("Qwen3-0.6B", "qwen3-0.6b", small), ("Gemma-3-1B", "gemma-3-1b", small),
                                           ("Gemma-2-2B", "gemma-2-2b", small), ("OLMo-2-1B", "olmo-2-1b", small),
                                           ("StableLM-2-1.6B", "stablelm-2-1.6b", small),
                                           ("Phi-3-mini", "phi-3-mini", "fixtures/vocab/ggml-vocab-phi-3.gguf"),
                                           ("Qwen3-MoE 32 experts, 4 per token", "benchmarks/shapes/qwen3-moe-small.json", small)] {
            let name = lastPathComponent(preset).replacing(".json", with: "")
            let checkpoint = ensureModel(name, preset: preset, tokenizer: tokenizer, dtype: "f16")
            files.append(("\(label) shape Q8_0", ggufFile(checkpoint, "\(name)-q8_0.gguf"), smolPromptText, [2]))
        }
    }
    for (label, path, prompt, threadCounts) in files {
        guard let path else { continue }
        for threads in threadCounts {
            var theirs: (pp: [Double], gen: [Double]) = ([], []), ours: (pp: [Double], gen: [Double]) = ([], [])
            for _ in 0..<runs {
                let r = python(["-c", llamaCppScript, path, String(threads), prompt])
                let figures = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
                if figures.count == 2 { theirs.pp.append(figures[0]); theirs.gen.append(figures[1]) }
                let g = jsonOf(mustRun(["run", path, "--prompt", "Hello", "-n", "128", "--temperature", "0", "--threads", String(threads), "--json"]))
                ours.gen.append(g["generation_tokens_per_second"]!.number!)
                let p = jsonOf(mustRun(["run", path, "--prompt", prompt, "-n", "1", "--threads", String(threads), "--json"]))
                ours.pp.append(p["prompt_tokens_per_second"]!.number!)
            }
            let t = "\(threads) thread\(threads > 1 ? "s" : "")"
            guard !theirs.gen.isEmpty else { break }
            recordBeside("\(label) GGUF prompt, \(t)", ours: ours.pp, theirs: theirs.pp, notes: "llama-cpp-python")
            recordBeside("\(label) GGUF generation, \(t)", ours: ours.gen, theirs: theirs.gen, notes: "llama-cpp-python")
        }
    }
    // Depth: prompts of about 512, 2,048 and 4,096 tokens, and decoding after them, beside
    // llama.cpp on SmolLM2's Q8_0 file (the same token count for both; our prompt is text,
    // llama.cpp's the same number of ids).
    if let smolGGUF = files.first?.path {
        let sentence = "The quick brown fox jumps over the lazy dog. "
        let perSentence = Double(jsonOf(mustRun(["tokenize", smolGGUF, "--text", String(repeating: sentence, count: 10), "--json"]))["ids"]!.array!.count) / 10
        for target in [512, 2048, 4096] {
            let text = joinPath(work, "depth-\(target).txt")
            if let f = fopen(text, "w") {
                fputs(String(repeating: sentence, count: Int(Double(target) / perSentence)), f)
                fclose(f)
            }
            var theirs: (pp: [Double], gen: [Double]) = ([], []), ours: (pp: [Double], gen: [Double]) = ([], [])
            var tokens = 0
            for _ in 0..<max(2, runs / 2) {
                let o = jsonOf(mustRun(["run", smolGGUF, "-f", text, "-n", "32", "--temperature", "0", "--ignore-eos", "--threads", "2", "--json"]))
                tokens = o["prompt_ids"]!.array!.count
                ours.pp.append(o["prompt_tokens_per_second"]!.number!)
                ours.gen.append(o["generation_tokens_per_second"]!.number!)
                let r = python(["-c", llamaDepthScript, smolGGUF, String(tokens)])
                let figures = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
                if figures.count == 2 { theirs.pp.append(figures[0]); theirs.gen.append(figures[1]) }
            }
            guard !theirs.pp.isEmpty else { continue }
            recordBeside("SmolLM2-135M Q8_0 prompt of \(tokens) tokens", ours: ours.pp, theirs: theirs.pp, notes: "2 threads")
            recordBeside("SmolLM2-135M Q8_0 decode after \(tokens) tokens", ours: ours.gen, theirs: theirs.gen, notes: "2 threads")
        }
    }
    // Quantizing an F16 GGUF to Q4_K_M, as llama-quantize does (the same bytes), taking turns.
    var sources = [("SmolLM2-135M", joinPath(work, lastPathComponent(smol) + "-f16.gguf"))]
    if !quick { sources.append(("Llama-3.2-1B shape", joinPath(work, "llama-3.2-1b-f16.gguf"))) }
    for (label, f16) in sources where pathKind(f16) == .file {
        var st = stat()
        let out = joinPath(work, "quantized.gguf"), bytes = stat(f16, &st) == 0 ? Double(st.st_size) : 0
        var theirs: [Double] = [], ours: [Double] = [], theirRSS = 0, ourRSS = 0
        for _ in 0..<max(runs, 2) {
            unlink(out)
            let t = python(["-c", llamaQuantizeScript, f16, out, "15"])
            if t.status == 0 { theirs.append(bytes / t.seconds / 1e6); theirRSS = max(theirRSS, t.peakRSSKiB) }
            unlink(out)
            let r = mustRun(["convert", f16, out, "--weights", "Q4_K_M"])
            ours.append(bytes / r.seconds / 1e6)
            ourRSS = max(ourRSS, r.peakRSSKiB)
        }
        unlink(out)
        guard !theirs.isEmpty else { continue }
        record("\(label) F16 GGUF to Q4_K_M: llama_model_quantize", theirs, unit: "MB/s", higherIsBetter: true, rssKiB: theirRSS, notes: "2 threads, whole process")
        record("\(label) F16 GGUF to Q4_K_M: convert", ours, unit: "MB/s", higherIsBetter: true, rssKiB: ourRSS,
               notes: "\(formatFixed(median(ours) / median(theirs), 2))× llama.cpp, the same bytes")
    }
}

// diff of the checkpoint against its q8 file: both files' bytes per second, whole process.
var diffSpeeds: [Double] = []
var diffRSS = 0
for _ in 0..<runs {
    let r = mustRun(["diff", small, q8, "--json", "--top", "0"])
    diffSpeeds.append(Double(jsonOf(r)["input_bytes"]!.int!) / r.seconds / 1e6)
    diffRSS = max(diffRSS, r.peakRSSKiB)
}
record("diff, GPT-2 124M against its q8 file", diffSpeeds, unit: "MB/s", higherIsBetter: true, rssKiB: diffRSS,
       notes: "whole process, both files' tensor bytes")

var firstToken: [Double] = []
for _ in 0..<max(runs, 5) { firstToken.append(mustRun(["run", q8, "--prompt", "Hello", "-n", "1"]).seconds * 1000) }
record("load to first token, q8, whole process", firstToken, unit: "ms", higherIsBetter: false)

// Two bounds: reading 512 MB (more than the 260 MB L3 of this machine: memory) and reading
// a buffer the size of what one q8 token reads, which may partly stay in a large L3.
let bw1 = readBandwidth(threads: 1)
let bw2 = readBandwidth(threads: 2)
record("memory read bandwidth, 512 MB, 1 thread", [bw1], unit: "GB/s", higherIsBetter: true)
record("memory read bandwidth, 512 MB, 2 threads", [bw2], unit: "GB/s", higherIsBetter: true)
var workingSet: [Int: (bytes: Double, gbps: [Double])] = [:]
for g in generation where workingSet[g.threads] == nil || g.bytesPerToken < workingSet[g.threads]!.bytes {
    workingSet[g.threads] = (g.bytesPerToken, [])
}
for (threads, w) in workingSet.sorted(by: { $0.key < $1.key }) {
    let gbps = readBandwidth(threads: threads, bytes: Int(w.bytes))
    workingSet[threads]!.gbps = [gbps]
    record("read bandwidth, \(formatFixed(w.bytes / 1e6, 0)) MB (one q8 token), \(threads) thread\(threads > 1 ? "s" : "")", [gbps], unit: "GB/s", higherIsBetter: true)
}
for g in generation {
    let bound = (g.threads == 1 ? bw1 : bw2) * 1e9 / g.bytesPerToken
    var notes = "\(formatFixed(median(g.tokensPerSecond) / bound * 100, 0))% of the memory bound \(formatFixed(bound, 0)) (\(formatFixed(g.bytesPerToken / 1e6, 0)) MB/token)"
    if let w = workingSet[g.threads], w.bytes == g.bytesPerToken, let gbps = w.gbps.first {
        let cached = gbps * 1e9 / g.bytesPerToken
        notes += "; \(formatFixed(median(g.tokensPerSecond) / cached * 100, 0))% of the same-size read \(formatFixed(cached, 0))"
    }
    record(g.label, g.tokensPerSecond, unit: "tokens/s", higherIsBetter: true, rssKiB: g.rss, notes: notes)
}

print("TensorLedger benchmark, \(machine)")
print(table.render())
