// `convert`: a checkpoint to one self-contained .tlm or GGUF file, streamed tensor by
// tensor: plan (how each tensor is stored), encode, write (TLMWriter or GGUFFileWriter).
//
// Memory stays near the largest tensor: the input is memory-mapped and each tensor's
// pages are released once it is written; two output buffers take turns. The work on a
// tensor (transpose, quantize) is split by rows across the cores, one hand-off per
// tensor. The output appears only when complete (see AtomicFileWriter).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif




public struct ConversionReport: Sendable {
    public static let jsonSchema = "tensorledger.convert/2"
    public var input: String
    public var output: String
    /// What `--weights` asked for (a mix names each tensor's scheme in `items`).
    public var weights: WeightChoice
    public var items: [ConversionItem]
    public var droppedBuffers: [String]
    public var warnings: [String]
    public var inputBytes: Int
    public var outputBytes: Int
    public var seconds: Double
    public var dryRun: Bool

    public var ratio: Double { outputBytes > 0 ? Double(inputBytes) / Double(outputBytes) : 0 }
    public var megabytesPerSecond: Double { seconds > 0 ? Double(inputBytes) / seconds / 1e6 : 0 }

    /// For each item, whether it repeats an earlier one's tensor (GPT-2's tied head, which
    /// GGUF holds twice).
    var repeats: [Bool] {
        var seen = Set<String>()
        return items.map { !seen.insert($0.source.name).inserted }
    }

    /// Over the source's tensors: one written twice counts once.
    public var totalQuality: QuantizationQuality {
        var q = QuantizationQuality()
        for (i, again) in zip(items, repeats) where !again { if let iq = i.quality { q.merge(iq) } }
        return q
    }

    public var summaryLine: String {
        if dryRun {
            return "dry run: \(input) → \(output): \(formatCount(inputBytes)) bytes of tensors would become about \(formatCount(outputBytes)) (\(formatFixed(ratio, 2))×); nothing was written"
        }
        return "\(input) → \(output): \(formatCount(inputBytes)) → \(formatCount(outputBytes)) bytes (\(formatFixed(ratio, 2))×) in \(formatFixed(seconds, 2)) s, \(formatFixed(megabytesPerSecond, 0)) MB/s of input"
    }

    /// A matrix in × out, as the ledger and trace write it: a linear layer is stored as out
    /// rows of in, an embedding (and any other table) as rows of the lookup.
    static func inByOut(_ item: ConversionItem) -> String {
        let s = item.shape
        guard s.count == 2 else { return s.map { formatCount($0) }.joined(separator: " × ") }
        let linear = item.category != .embedding && item.category != .other
        return linear ? "\(formatCount(s[1])) × \(formatCount(s[0]))" : "\(formatCount(s[0])) × \(formatCount(s[1]))"
    }

    public func table(quality: Bool) -> String {
        var headers = ["Tensor", "Category", "Scheme", "In × out", "Source bytes", "Stored bytes", "Encoding"]
        var align: [TextTable.Alignment] = [.left, .left, .left, .left, .right, .right, .left]
        if quality {
            headers += ["RMSE", "Max error", "SNR dB"]
            align += [.right, .right, .right]
        }
        var t = TextTable(headers: headers, alignments: align)
        let repeats = self.repeats
        for (i, again) in zip(items, repeats) {
            var row = [i.source.name + (again ? " (again)" : ""), i.categoryName, i.scheme.rawValue + (i.transposed ? " (T)" : ""),
                       ConversionReport.inByOut(i),
                       formatCount(i.sourceBytes), formatCount(dryRun ? i.rawBytes : i.storedBytes), i.encoding.rawValue]
            if quality {
                if let q = i.quality {
                    row += [ConversionReport.scientific(q.rmse), ConversionReport.scientific(Double(q.maxAbsoluteError)),
                            q.snrDecibels.isFinite ? formatFixed(q.snrDecibels, 1) : "exact"]
                } else {
                    row += ["", "", ""]
                }
            }
            t.add(row)
        }
        var out = t.render()
        if quality {
            let q = totalQuality
            out += "\nAll quantized tensors: RMSE \(ConversionReport.scientific(q.rmse)), max error \(ConversionReport.scientific(Double(q.maxAbsoluteError))), SNR \(q.snrDecibels.isFinite ? formatFixed(q.snrDecibels, 1) + " dB" : "exact")"
        }
        out += "\n(T): stored transposed to rows × columns; the source held it as [in, out] (GPT-2 Conv1D)."
        if repeats.contains(true) { out += "\n(again): written a second time, as GGUF's output.weight (llama.cpp reads GPT-2's tied head there)." }
        let notes = items.compactMap { i in i.note.map { "\(i.source.name): \($0)" } }
        if !notes.isEmpty { out += "\nKept in float: " + notes.joined(separator: "; ") }
        if !droppedBuffers.isEmpty { out += "\nDropped buffers (not parameters): " + Ledger.abbreviatedList(droppedBuffers) }
        return out
    }

    static func scientific(_ x: Double) -> String {
        guard x > 0, x.isFinite else { return x == 0 ? "0" : "\(x)" }
        var e = 0
        var m = x
        while m >= 10 { m /= 10; e += 1 }
        while m < 1 { m *= 10; e -= 1 }
        return formatFixed(m, 2) + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
    }

    public var json: JSONValue {
        .object(JSONObject([
            "schema": .string(Self.jsonSchema),
            "input": .string(input), "output": .string(output), "scheme": .string(weights.name),
            "dry_run": .bool(dryRun),
            "input_bytes": .int(inputBytes), "output_bytes": .int(outputBytes),
            "ratio": .double(ratio), "seconds": .double(seconds), "mb_per_second": .double(megabytesPerSecond),
            "quality": totalQuality.json,
            "tensors": .array(items.map { i in
                var o = JSONObject([
                    "name": .string(i.source.name), "category": .string(i.categoryName), "scheme": .string(i.scheme.rawValue),
                    "transposed": .bool(i.transposed), "shape": .array(i.shape.map { .int($0) }),
                    "source_dtype": .string(i.sourceTypeName), "source_bytes": .int(i.sourceBytes),
                    "raw_bytes": .int(i.rawBytes), "stored_bytes": .int(i.storedBytes), "encoding": .string(i.encoding.rawValue),
                ])
                if let q = i.quality { o["quality"] = q.json }
                if let n = i.note { o["note"] = .string(n) }
                return .object(o)
            }),
            "dropped_buffers": .array(droppedBuffers.map { .string($0) }),
            "warnings": .array(warnings.map { .string($0) }),
        ]))
    }
}

public enum Converter {
    public static let createdBy = "tensorledger \(TensorLedgerVersion.string)"



    /// Decides, for every tensor, how it will be stored.
    public static func plan(_ checkpoint: Checkpoint, config: ModelConfig?, options: ConversionOptions, mixModel: QuantMix.Model? = nil)
        throws -> (items: [ConversionItem], dropped: [String], warnings: [String]) {
        let family = config?.family ?? TensorClassifier.detectFamily(checkpoint.tensors.map(\.name))
        // What would not run is not converted: the file would hold a model that computes wrong.
        if let config { try ModelLoader.checkRunnable(config, tensors: checkpoint.tensors.map(\.info), source: checkpoint.path) }
        try StoragePlan.checkKeep(options.keep, names: checkpoint.tensors.map(\.name))
        for t in checkpoint.tensors {
            if let marker = quantizedMarkers.first(where: { t.name.hasSuffix($0.suffix) }) {
                throw ConversionError.alreadyQuantized(file: checkpoint.shards[t.shard].path, tensor: t.name, scheme: marker.scheme)
            }
        }
        var items: [ConversionItem] = []
        var dropped: [String] = []
        let ignoredHead = config?.ignoredTiedHead(in: checkpoint.tensors.map(\.name))
        let mixModel = mixModel ?? config.map { QuantMix.Model(config: $0, tensors: checkpoint.tensors.map(\.info)) }
        for t in checkpoint.tensors where t.name != ignoredHead {
            guard let s = try StoragePlan.storage(of: t.info, family: family, options: options, mixModel: mixModel) else { dropped.append(t.name); continue }
            items.append(ConversionItem(source: t, storage: s))
        }
        return (items, dropped, ignoredHead.map { [ModelConfig.ignoredTiedHeadNote($0)] } ?? [])
    }



    /// The model's own name, as llama.cpp's converter looks for it: the last part of
    /// config.json's `_name_or_path` (a hub id or a folder), the model of a hub cache
    /// snapshot, else the checkpoint's folder (never a snapshot's commit hash).
    static func modelName(_ checkpoint: Checkpoint, config: ModelConfig?) -> String {
        if let named = config?.nameOrPath.map({ lastPathComponent(String($0.reversed().drop { $0 == "/" }.reversed())) }), !named.isEmpty {
            return named
        }
        return HuggingFaceCache.modelName(ofSnapshot: checkpoint.directory) ?? lastPathComponent(checkpoint.directory)
    }

    /// Tensor-name endings that only quantized checkpoints have, and the scheme each shows.
    static let quantizedMarkers: [(suffix: String, scheme: String)] = [
        (".qweight", "GPTQ or AWQ"), (".qzeros", "GPTQ or AWQ"), (".weight_packed", "compressed-tensors"),
        (".weight_scale", "compressed-tensors or FP8"), (".SCB", "bitsandbytes int8"), (".quant_state.bitsandbytes__nf4", "bitsandbytes nf4"),
        (".quant_state.bitsandbytes__fp4", "bitsandbytes fp4"), (".absmax", "bitsandbytes 4-bit"),
    ]


    /// What a conversion will do, and how to start the file it writes.
    struct Plan {
        /// The layout the encoders write (q8 as .tlm planes or as ggml's Q8_0 blocks).
        var format: ConversionOptions.OutputFormat
        var items: [ConversionItem]
        var dropped: [String]
        var warnings: [String]
        /// The size of the file (before compression, for .tlm); for GGUF it lays out the header.
        var fileBytes: () throws -> Int
        /// Per item, how its rows are reordered for ggml's RoPE (GGUF, llama).
        var permutations: [GGUFRowPermutation?]
        /// Source bytes converted (a tensor written twice counts once).
        var inputBytes: Int
        /// Where the tensors come from: a checkpoint's mapped shards, or a GGUF file's weights.
        var source: Source
        var makeWriter: (_ output: String, _ overwrite: Bool) throws -> any ConvertedModelWriter

        /// The report of this plan carried out (or, for a dry run, planned).
        func report(output: String, weights: WeightChoice, outputBytes: Int, seconds: Double, dryRun: Bool) -> ConversionReport {
            let input: String
            switch source {
            case .checkpoint(let c): input = c.path
            case .gguf(let g): input = g.file.path
            }
            return ConversionReport(input: input, output: output, weights: weights, items: items, droppedBuffers: dropped, warnings: warnings,
                                    inputBytes: inputBytes, outputBytes: outputBytes, seconds: seconds, dryRun: dryRun)
        }
    }

    enum Source {
        case checkpoint(Checkpoint)
        case gguf(GGUFWeights)
    }

    /// Converts `input` (a checkpoint file, index or directory, or a GGUF file) to `output`
    /// in `options.format`.
    public static func convert(input: String, output: String, options: ConversionOptions, dryRun: Bool = false,
                               progress: ((Int, Int) -> Void)? = nil) throws -> ConversionReport {
        let clock = Stopwatch()
        var plan = try plan(input: input, options: options)
        if dryRun { return plan.report(output: output, weights: options.weights, outputBytes: try plan.fileBytes(), seconds: clock.seconds, dryRun: true) }
        let writer = try plan.makeWriter(output, options.overwrite)
        do {
            try encode(&plan, into: writer, options: options, progress: progress)
            return plan.report(output: output, weights: options.weights, outputBytes: try writer.finish(plan.items), seconds: clock.seconds, dryRun: false)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// What `convert --report` measures, without a file: every tensor encoded as `convert`
    /// would (a checkpoint's as for .tlm, a GGUF's as for GGUF, already-quantized matrices
    /// measured against their dequantized values) and the bytes dropped. Streams as convert
    /// does, so memory stays near the largest tensor. A .tlm file is refused as by convert:
    /// its float weights are gone.
    public static func measure(input: String, options: ConversionOptions, progress: ((Int, Int) -> Void)? = nil) throws -> ConversionReport {
        let clock = Stopwatch()
        var measuring = options
        measuring.allowRequantize = true
        measuring.format = ModelFile.kind(of: input) == .gguf ? .gguf : .tlm
        var plan = try plan(input: input, options: measuring)
        let writer = DiscardingWriter()
        try encode(&plan, into: writer, options: measuring, progress: progress)
        return plan.report(output: "", weights: options.weights, outputBytes: try writer.finish(plan.items), seconds: clock.seconds, dryRun: false)
    }

    /// How `input` (a GGUF file, or a checkpoint) becomes `options.format`.
    static func plan(input: String, options: ConversionOptions) throws -> Plan {
        if pathKind(input) == .file && ModelSource.isGGUF(input) {
            let gguf = try GGUFFile.open(input)
            return options.format == .tlm ? try ggufToTLMPlan(gguf, options: options) : try ggufToGGUFPlan(gguf, options: options)
        }
        let checkpoint = try Checkpoint.openForConversion(input)
        checkpoint.shards.forEach { $0.adviseSequential() }
        return options.format == .gguf ? try ggufPlan(checkpoint, input: input, options: options) : try tlmPlan(checkpoint, options: options)
    }

    /// Every tensor of the plan from its source into `writer`, in plan order.
    static func encode(_ plan: inout Plan, into writer: any ConvertedModelWriter, options: ConversionOptions,
                       progress: ((Int, Int) -> Void)?) throws {
        switch plan.source {
        case .checkpoint(let checkpoint):
            try encodeAndWrite(&plan, from: checkpoint, to: writer, threads: options.threads, progress: progress, interrupted: options.interrupted)
        case .gguf(let weights) where plan.format == .gguf:
            try requantizeGGUF(&plan, from: weights.file, to: writer, threads: options.threads, progress: progress, interrupted: options.interrupted)
        case .gguf(let weights):
            try copyGGUF(&plan, from: weights, to: writer, progress: progress, interrupted: options.interrupted)
        }
    }

    /// The .tlm plan: every tensor, and the config, tokenizer and chat files embedded.
    static func tlmPlan(_ checkpoint: Checkpoint, options: ConversionOptions) throws -> Plan {
        let configPath = checkpoint.sidecar("config.json")
        let config = try configPath.map { try ModelConfig.load($0) }
        let (items, dropped, planWarnings) = try plan(checkpoint, config: config, options: options)
        var warnings = checkpoint.warnings + planWarnings
        let tokenizerPath = checkpoint.sidecar("tokenizer.json")
        if config == nil { warnings.append("no config.json beside the weights: the .tlm file will not be runnable") }
        if tokenizerPath == nil { warnings.append("no tokenizer.json beside the weights: the .tlm file will carry no tokenizer") }
        // tokenizer_config.json and chat_template.jinja carry the chat template and the BOS/EOS names.
        let files = Checkpoint.sidecarNames.compactMap { name in checkpoint.sidecar(name).map { (name: name, path: $0) } }
        let inputs = checkpoint.inputPaths
        return Plan(format: .tlm, items: items, dropped: dropped, warnings: warnings, fileBytes: { StoragePlan.estimatedFileBytes(rawBytes: items.map(\.rawBytes)) },
                    permutations: items.map { _ in nil }, inputBytes: items.reduce(0) { $0 + $1.source.info.byteCount },
                    source: .checkpoint(checkpoint), makeWriter: { output, overwrite in
                        let contents = try files.map { f in
                            (f.name, try readWholeFile(f.path, limit: f.name == "tokenizer.json" ? 256 << 20 : 16 << 20))
                        }
                        return try TLMWriter(path: output, overwrite: overwrite, protecting: inputs, config: config, embedding: contents,
                                             zstdLevel: options.zstdLevel, source: modelName(checkpoint, config: config))
                    })
    }

    /// Two encoders take turns: while one tensor is written (compressed and checksummed,
    /// for .tlm) on a background thread, the next is encoded into the other's buffer.
    static func encodeAndWrite(_ plan: inout Plan, from checkpoint: Checkpoint, to writer: any ConvertedModelWriter, threads: Int,
                               progress: ((Int, Int) -> Void)?, interrupted: () -> Bool) throws {
        let encoders = [TensorEncoder(threads: max(1, threads)), TensorEncoder(threads: max(1, threads))]
        var writing: (index: Int, task: BackgroundTask<StoredTensor>)?
        var done = 0
        var counted = Set<String>()
        func finishWriting() throws {
            guard let (i, task) = writing else { return }
            writing = nil
            plan.items[i].record(try task.value())
            if counted.insert(plan.items[i].source.name).inserted { done += plan.items[i].source.info.byteCount }
            progress?(done, plan.inputBytes)
        }
        do {
            var next = 0  // the encoder the next tensor goes into; the other one's bytes may be being written
            for i in plan.items.indices {
                if interrupted() {
                    throw InterruptedError(progress: "converted \(i) of \(plan.items.count) tensors in \(formatFixed(Double(done) / 1e6, 0)) MB; nothing was written")
                }
                let encoder: TensorEncoder
                if i > 0 && plan.items[i].source.name == plan.items[i - 1].source.name && plan.permutations[i] == plan.permutations[i - 1]
                    && plan.items[i].scheme == plan.items[i - 1].scheme {
                    // The same tensor again (GPT-2's tied head, which llama.cpp wants written
                    // twice): the bytes just encoded, written once more.
                    encoder = encoders[1 - next]
                    plan.items[i].quality = plan.items[i - 1].quality
                    try finishWriting()
                } else {
                    encoder = encoders[next]
                    next = 1 - next
                    plan.items[i].quality = try encoder.encode(plan.items[i], from: checkpoint, format: plan.format, permuting: plan.permutations[i])
                    checkpoint.releasePages(of: plan.items[i].source)
                    try finishWriting()
                }
                let item = plan.items[i]
                let bytes = UnsafeRawBufferPointer(rebasing: encoder.output[0..<item.rawBytes])
                writing = (i, BackgroundTask {
                    try withExtendedLifetime(encoder) { try writer.write(item, encoded: bytes) }
                })
            }
            try finishWriting()
        } catch {
            // The writer thread must be done with the file before it is abandoned.
            _ = try? writing?.task.value()
            throw error
        }
    }
}
