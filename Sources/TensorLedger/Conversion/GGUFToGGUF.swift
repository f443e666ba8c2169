// `convert IN.gguf OUT.gguf --weights Q4_K_M`: what llama-quantize does. Every tensor keeps
// its name, shape and place; the matrices llama-quantize would quantize get the type the
// mix's rules (or the scheme) give them, from the source's values (dequantized exactly);
// the rest, and any matrix already in its type, are copied byte for byte. A matrix that is
// already quantized is quantized again only with --allow-requantize. The metadata is the
// source's, key for key, but for the file type (and alignment: ours is 32).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

extension Converter {
    static func ggufToGGUFPlan(_ gguf: GGUFFile, options: ConversionOptions) throws -> Plan {
        let config = try gguf.modelConfig()
        guard options.keep.isEmpty else {
            throw GGUFConversionError.unsupported(file: gguf.path, reason: "--keep applies to checkpoints; a GGUF's matrices are chosen by the mix's rules")
        }
        let model = QuantMix.Model(config: config, hasOutput: gguf.tensor(named: "output.weight") != nil)
        var items: [ConversionItem] = []
        var tensors: [GGUFTensorPlan] = []
        for m in gguf.huggingFaceTensors(splittingExperts: false) {
            let t = m.gguf, cols = t.dimensions.first ?? 1
            let type = try targetType(t, cols: cols, options: options, model: model, file: gguf.path)
            guard let scheme = WeightScheme(ggmlType: type) else {
                throw GGUFConversionError.unsupported(file: gguf.path, reason: "tensor \"\(t.name)\" is \(t.type.name), which is copied as it is only into a GGUF of the same type")
            }
            var category = LedgerCategory.other
            switch TensorClassifier.role(of: m.info, family: config.family) {
            case .matrix(let c, _): category = c
            case .fusedQKV: category = .query
            default: break
            }
            // Rows as the GGUF stores them, whatever the checkpoint's layout was (a stack of
            // experts' matrices: all their rows).
            let shape = t.dimensions.count >= 2 ? [t.elementCount / max(cols, 1), cols] : [t.elementCount]
            var info = m.info
            info.dtype = t.type.plainDType ?? .float32
            var item = ConversionItem(source: CheckpointTensor(info: info, shard: 0),
                                      storage: TensorStorage(category: category, scheme: scheme, transposed: false, fusedQKV: false, shape: shape,
                                                             rawBytes: GGUFTensorPlan(name: t.name, dimensions: t.dimensions, type: type).byteCount))
            if t.type.plainDType == nil { item.sourceBlocks = (t.type.name, t.byteCount) }
            items.append(item)
            tensors.append(GGUFTensorPlan(name: t.name, dimensions: t.dimensions, type: type))
        }
        let dataBytes = GGUFWriter.layOut(&tensors)
        for i in items.indices { items[i].storedBytes = tensors[i].byteCount }
        var metadata = gguf.metadata.filter { ![GGUFKey.fileType, GGUFKey.quantizationVersion, GGUFKey.alignment].contains($0.key) }.map { ($0.key, $0.value) }
        let general = metadata.firstIndex { !$0.0.hasPrefix("general.") } ?? metadata.count
        metadata.insert((GGUFKey.fileType, .u32(options.weights.ggufFileType)), at: general)
        if tensors.contains(where: { $0.type.plainDType == nil }) { metadata.append((GGUFKey.quantizationVersion, .u32(2))) }
        let header = GGUFWriter.header(metadata: metadata, tensors: tensors)
        return Plan(format: .gguf, items: items, dropped: [], warnings: [], fileBytes: { header.count + dataBytes },
                    permutations: items.map { _ in nil }, inputBytes: gguf.tensors.reduce(0) { $0 + $1.byteCount },
                    source: .gguf(GGUFWeights(file: gguf, config: config, asStored: true, threads: options.threads)), makeWriter: { output, overwrite in
                        try GGUFFileWriter(path: output, overwrite: overwrite, protecting: [gguf.path], header: BackgroundTask { header }, leading: [])
                    })
    }

    /// llama-quantize's choice for one tensor: left as it is unless it is a matrix it
    /// quantizes; then the mix's rule, or the scheme (F16 where no block divides the rows).
    private static func targetType(_ t: GGUFTensorInfo, cols: Int, options: ConversionOptions, model: QuantMix.Model, file: String) throws -> GGMLType {
        guard QuantMix.quantizes(ggufName: t.name, dimensions: t.dimensions.count) else { return t.type }
        let wanted: GGMLType
        if let mix = options.mix {
            guard let type = mix.type(of: QuantMix.role(ofGGUF: t.name), layer: TensorClassifier.layerIndex(of: t.name), cols: cols, model: model) else { return .f16 }
            wanted = type
        } else {
            let scheme = cols % options.scheme.rowMultiple == 0 ? options.scheme : .f16
            guard let type = scheme.ggmlType else { throw GGUFConversionError.noSuchType(file: file, scheme: options.scheme.rawValue) }
            wanted = type
        }
        if wanted != t.type && t.type.plainDType == nil && !options.allowRequantize {
            throw ConversionError.requantizing(file: file, tensor: t.name, from: t.type.name, to: wanted.name)
        }
        return wanted
    }

    /// Each tensor in turn: its bytes as they are when its type stays, else its values
    /// (dequantized exactly, a band of rows at a time) encoded in the new type; the error
    /// is measured against them.
    static func requantizeGGUF(_ plan: inout Plan, from file: GGUFFile, to writer: any ConvertedModelWriter, threads: Int,
                               progress: ((Int, Int) -> Void)?, interrupted: () -> Bool) throws {
        let encoder = TensorEncoder(threads: max(1, threads))
        var done = 0
        for (i, t) in file.tensors.enumerated() {
            if interrupted() { throw InterruptedError(progress: "converted \(i) of \(plan.items.count) tensors; nothing was written") }
            let raw = try file.checkedData(for: t, threads: threads)
            let item = plan.items[i]
            if item.scheme.ggmlType == t.type {
                plan.items[i].record(try writer.write(item, encoded: raw))
            } else {
                // Row by row in both types: a GGUF row is whole blocks of either.
                let cols = t.dimensions.first ?? 1, rows = t.elementCount / max(cols, 1), sourceRow = t.byteCount / max(rows, 1)
                let rowBytes = TensorEncoder.rowBytes(item, format: .gguf) ?? item.rawBytes
                plan.items[i].quality = try encoder.encodeInBands(item.shape.count == 2 ? item : Self.asOneRow(item), rowBytes: rowBytes, format: .gguf, fill: { r0, n, x in
                    let part = UnsafeRawBufferPointer(rebasing: raw[(r0 * sourceRow)..<((r0 + n) * sourceRow)])
                    if let dtype = t.type.plainDType {
                        try TensorEncoder.widen(part, dtype: dtype, into: x, threads: threads, tensor: t.name)
                    } else {
                        GGMLDequantize.dequantize(part, type: t.type, count: n * cols, into: x.baseAddress!)
                    }
                }, done: { r0, n in releasePages(raw.baseAddress! + r0 * sourceRow, byteCount: n * sourceRow) })
                let bytes = UnsafeRawBufferPointer(rebasing: encoder.output[0..<item.rawBytes])
                plan.items[i].record(try writer.write(item, encoded: bytes))
            }
            releasePages(raw.baseAddress!, byteCount: raw.count)
            done += t.byteCount
            progress?(done, plan.inputBytes)
        }
    }

    /// A vector as one row, for the band encoder.
    private static func asOneRow(_ item: ConversionItem) -> ConversionItem {
        var one = item
        one.storage.shape = [1, item.shape.reduce(1, *)]
        return one
    }
}
