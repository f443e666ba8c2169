// `convert MODEL.gguf OUT.tlm`: a GGUF file's weights into a .tlm file, each tensor as
// GGUFWeights gives it for a conversion: F32, F16, BF16 and Q8_0 as they
// are (Q8_0 is the q8 layout's numbers), the types .tlm has no scheme for dequantized and
// requantized to q8, llama's permuted Q and K rows put back. Names, shapes and
// categories are Hugging Face's, so the .tlm file reads as if made from the checkpoint.
// The configuration comes from the metadata; the tokenizer (written as tokenizer.json)
// and the chat template from the tokenizer keys.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

extension Converter {
    static func ggufToTLMPlan(_ gguf: GGUFFile, options: ConversionOptions) throws -> Plan {
        let config = try gguf.modelConfig()
        let weights = GGUFWeights(file: gguf, config: config, asStored: false, threads: options.threads)
        var warnings: [String] = []
        if options.scheme != .q8 || !options.keep.isEmpty {
            warnings.append("from GGUF, tensors keep the file's types (those .tlm lacks become q8): the weight scheme and keep patterns asked for do not apply")
        }
        var items: [ConversionItem] = []
        var dropped: [String] = []
        for m in gguf.huggingFaceTensors(parametersOnly: true) {
            let role = TensorClassifier.role(of: m.info, family: config.family)
            // llama.cpp's rope_freqs (Llama 3's rope scaling as divisors) is kept: the runner reads it.
            if role == .buffer && m.info.name != FamilyTensor.ropeDivisors { dropped.append(m.info.name); continue }
            var category = LedgerCategory.other, fused = false
            switch role {
            case .matrix(let c, _): category = c
            case .fusedQKV: category = .query; fused = true
            default: break
            }
            let shape = m.gguf.dimensions.count == 2 ? [m.gguf.dimensions[1], m.gguf.dimensions[0]] : [m.gguf.elementCount]
            // Vectors in f32; Q8_0 as it is; the types .tlm lacks requantized to q8.
            let scheme = shape.count == 1 ? .f32 : WeightScheme(ggmlType: m.gguf.type) ?? .q8
            guard let rawBytes = TLMTensorEntry.expectedRawBytes(shape: shape, scheme: scheme) else {
                throw ModelLoadError.unsupportedTensorType(source: gguf.path, name: m.gguf.name, type: m.gguf.type.name)
            }
            var source = CheckpointTensor(info: m.info, shard: 0)
            let blocks = m.gguf.type.plainDType == nil
            // The .tlm header records the values' element type (f32, as dequantized, for a
            // block type); the report names the block type and its bytes.
            if blocks { source.info.dtype = .float32 }
            var item = ConversionItem(source: source, storage: TensorStorage(category: category, scheme: scheme, transposed: m.conv1D, fusedQKV: fused,
                                                                           shape: shape, rawBytes: rawBytes, note: nil))
            if blocks { item.sourceBlocks = (m.gguf.type.name, m.gguf.byteCount) }
            // A .tlm file keeps a checkpoint's own values: Gemma's GGUF norms are 1 + w.
            if config.record.gemma && ModelFamily.isGemmaNorm(m.info) { item.valueShift = -1 }
            items.append(item)
        }
        let tokenizer = try BPETokenizer.fromGGUF(gguf, source: gguf.path)
        let chat = try ModelFile.gguf(gguf).tokenizerConfig()
        var files: [(name: String, bytes: [UInt8])] = []
        if chat.chatTemplate != nil || chat.bosToken != nil || chat.eosToken != nil {
            var o = JSONObject()
            if let t = chat.chatTemplate { o["chat_template"] = .string(t) }
            if let b = chat.bosToken { o["bos_token"] = .string(b) }
            if let e = chat.eosToken { o["eos_token"] = .string(e) }
            files.append((TokenizerConfig.configFile, Array(JSONValue.object(o).serialized().utf8)))
        }
        files.append(("tokenizer.json", tokenizer.tokenizerJSON()))
        let name = lastPathComponent(gguf.path)
        return Plan(format: .tlm, items: items, dropped: dropped, warnings: warnings, fileBytes: { StoragePlan.estimatedFileBytes(rawBytes: items.map(\.rawBytes)) },
                    permutations: items.map { _ in nil }, inputBytes: gguf.tensors.reduce(0) { $0 + $1.byteCount },
                    source: .gguf(weights),
                    makeWriter: { output, overwrite in
                        try TLMWriter(path: output, overwrite: overwrite, protecting: [gguf.path], config: config, embedding: files,
                                      zstdLevel: options.zstdLevel, source: name)
                    })
    }

    /// One tensor of a GGUF file in its .tlm form, as the runner would load it, handed to `body`.
    static func withGGUFStoredBytes<T>(_ item: ConversionItem, from weights: GGUFWeights, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        if item.shape.count == 1 {
            return try weights.vector(item.source.name, count: item.shape[0]).map { $0 + item.valueShift }.withUnsafeBytes(body)
        }
        let matrix = try weights.matrix(item.source.name, rows: item.shape[0], cols: item.shape[1], conv1D: item.transposed)
        return try withExtendedLifetime(matrix.owner) { try body(matrix.bytes) }
    }

    /// Each tensor in turn, as loading would make it, straight to the writer.
    static func copyGGUF(_ plan: inout Plan, from weights: GGUFWeights, to writer: any ConvertedModelWriter,
                         progress: ((Int, Int) -> Void)?, interrupted: () -> Bool) throws {
        var done = 0
        for i in plan.items.indices {
            if interrupted() { throw InterruptedError(progress: "converted \(i) of \(plan.items.count) tensors; nothing was written") }
            plan.items[i].record(try withGGUFStoredBytes(plan.items[i], from: weights) { try writer.write(plan.items[i], encoded: $0) })
            done += weights.byName[plan.items[i].source.name]?.gguf.byteCount ?? 0
            progress?(done, plan.inputBytes)
        }
    }
}
