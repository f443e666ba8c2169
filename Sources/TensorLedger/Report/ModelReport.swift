// `report`: the figures one HTML page draws about a model, gathered from the commands that
// answer each question (the ledger; convert's error measurement, without a file; diff;
// plan over context lengths), and written as JSON. ReportPage draws them.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerModels
import TensorLedgerRuntime

public struct ModelReport: Sendable {
    public static let jsonSchema = "tensorledger.report/1"

    /// One cell of a layer × group grid: a nil layer is the model's own row (embedding,
    /// unembedding, final norm).
    public struct Cell: Sendable {
        public var layer: Int?
        public var group: String
        public var tensors: Int
        public var parameters: Int
        /// SNR in dB (nil: exact) for quantization; the relative change for a comparison.
        public var value: Double?
        /// The types the cell's tensors were quantized to (quantization only).
        public var types: [String] = []
    }

    public struct Quantization: Sendable {
        public var scheme: String
        public var cells: [Cell]
        /// The conversion measured: every tensor's scheme and error.
        public var conversion: ConversionReport
        public var total: QuantizationQuality { conversion.totalQuality }
    }

    public struct Comparison: Sendable {
        public var diff: ModelDiff
        public var cells: [Cell]
        public var top: Int
    }

    public struct Memory: Sendable {
        public var contexts: [Int]
        /// Bytes to run at each context, per scheme; schemes of equal bytes share a line.
        public var series: [(names: [String], bytes: [Int])]
        public var cache: KVCacheType
        /// What this machine has (or this process may use); nil where unknown.
        public var machineBytes: Int?
    }

    public var source: String
    public var ledger: Ledger
    public var warnings: [String]
    public var quantization: Quantization?
    /// Why there is no quantization section, when there is none.
    public var quantizationSkipped: String?
    public var comparison: Comparison?
    public var memory: Memory?
    public var seconds: Double

    public struct Options: Sendable {
        /// The scheme whose error is mapped; nil for none.
        public var weights: WeightChoice? = .mix(.q4_k_m)
        public var compare: String?
        public var top = 10
        public var context: Int?
        public var cache: KVCacheType = .f16
        public var threads = 2
        public var interrupted: @Sendable () -> Bool = { false }
        public init() {}
    }

    /// Reads `model` (and `options.compare`), measures, and returns the figures. Only the
    /// quantization pass and the comparison read tensor data; both stream.
    public static func make(_ model: String, options: Options, progress: ((Int, Int) -> Void)? = nil) throws -> ModelReport {
        let clock = Stopwatch()
        let file = try ModelFile.open(model)
        let tensors = file.tensors, config = try file.config()
        let ledger = Ledger(tensors: tensors, config: config, source: file.path, typeNames: file.typeNames)
        var report = ModelReport(source: model, ledger: ledger, warnings: file.warnings, seconds: 0)
        if let weights = options.weights {
            if ModelFile.kind(of: model) == .tlm {
                report.quantizationSkipped = "a .tlm file holds its weights already converted; the error of a scheme is measured from a checkpoint or a GGUF file"
            } else {
                var o = ConversionOptions()
                o.weights = weights
                o.threads = options.threads
                o.interrupted = options.interrupted
                let conversion = try Converter.measure(input: model, options: o, progress: progress)
                report.quantization = Quantization(scheme: weights.name, cells: quantizationCells(conversion), conversion: conversion)
            }
        } else {
            report.quantizationSkipped = "not asked for"
        }
        if let other = options.compare {
            let diff = try ModelDiff.compare(model, other)
            report.comparison = Comparison(diff: diff, cells: changeCells(diff), top: options.top)
        }
        if let config {
            report.memory = try memory(tensors: tensors, config: config, source: model, context: options.context ?? config.contextLength,
                                       cache: options.cache)
        }
        report.seconds = clock.seconds
        return report
    }

    /// The error of every quantized tensor, merged per layer and group.
    static func quantizationCells(_ conversion: ConversionReport) -> [Cell] {
        let measured = zip(conversion.items, conversion.repeats).compactMap { item, again -> Entry<QuantizationQuality>? in
            guard !again, let q = item.quality else { return nil }
            return Entry(layer: TensorClassifier.layerIndex(of: item.source.name), group: item.fusedQKV ? ModelDiff.fusedGroup : item.category.rawValue,
                         parameters: item.source.info.elementCount, type: item.scheme.blockType?.name ?? item.scheme.rawValue, sums: q)
        }
        return grid(measured, empty: QuantizationQuality(), merge: { $0.merge($1) }, value: \.snrDecibels)
    }

    /// ‖B − A‖ / ‖A‖ per layer and group.
    static func changeCells(_ diff: ModelDiff) -> [Cell] {
        let changes = diff.tensors.map { Entry(layer: $0.layer, group: $0.group, parameters: $0.sums.count, type: nil, sums: $0.sums) }
        return grid(changes, empty: ModelDiff.Sums(), merge: { $0.merge($1) }, value: \.relativeChange)
    }

    /// One tensor's figures, placed in the grid.
    struct Entry<Sums> {
        let layer: Int?
        let group: String
        let parameters: Int
        let type: String?
        let sums: Sums
    }

    /// Entries merged by their sums per layer and group; a cell's value read from the merged
    /// sums (nil where infinite).
    static func grid<Sums>(_ entries: [Entry<Sums>], empty: Sums, merge: (inout Sums, Sums) -> Void, value: (Sums) -> Double) -> [Cell] {
        var cells: [Key: (cell: Cell, sums: Sums)] = [:]
        for e in entries {
            let key = Key(layer: e.layer, group: e.group)
            var entry = cells[key] ?? (Cell(layer: e.layer, group: e.group, tensors: 0, parameters: 0, value: nil), empty)
            entry.cell.tensors += 1
            entry.cell.parameters += e.parameters
            if let type = e.type, !entry.cell.types.contains(type) { entry.cell.types.append(type) }
            merge(&entry.sums, e.sums)
            cells[key] = entry
        }
        return cells.values.map { cell, sums in
            var c = cell
            let v = value(sums)
            c.value = v.isFinite ? v : nil
            return c
        }.sorted(by: Key.order)
    }

    struct Key: Hashable {
        var layer: Int?
        var group: String

        /// The model's own row first, then the layers; groups in the ledger's order.
        static func order(_ a: Cell, _ b: Cell) -> Bool {
            let g = { (c: Cell) in ModelDiff.groupOrder.firstIndex(of: c.group) ?? ModelDiff.groupOrder.count }
            return (a.layer ?? -1, g(a)) < (b.layer ?? -1, g(b))
        }
    }

    /// `plan` at contexts from one token to `context`, for plan's columns (the file as stored, then each scheme).
    static func memory(tensors: [TensorInfo], config: ModelConfig, source: String, context: Int, cache: KVCacheType) throws -> Memory {
        let steps = 16
        let contexts = (0...steps).map { max(1, context * $0 / steps) }
        var byScheme: [(name: String, bytes: [Int])] = []
        for (i, c) in contexts.enumerated() {
            let plan = try MemoryPlan(tensors: tensors, config: config, source: source, context: c, batch: 1,
                                      schemes: MemoryPlan.defaultSchemes, stored: true, cache: cache)
            for (j, column) in plan.columns.enumerated() {
                if i == 0 { byScheme.append((column.name, [])) }
                byScheme[j].bytes.append(plan.totalBytes(column))
            }
        }
        var series: [(names: [String], bytes: [Int])] = []
        for s in byScheme {
            if let same = series.firstIndex(where: { $0.bytes == s.bytes }) { series[same].names.append(s.name) } else { series.append(([s.name], s.bytes)) }
        }
        return Memory(contexts: contexts, series: series, cache: cache, machineBytes: machineMemoryBytes())
    }

    /// What was drawn, in one line: the page, its sections and the time.
    public func summaryLine(written path: String?) -> String {
        var parts = ["the ledger"]
        if let q = quantization { parts.append("\(q.scheme) error (" + (q.total.count == 0 ? "no tensor quantized" : "SNR " + (q.total.snrDecibels.isFinite ? formatFixed(q.total.snrDecibels, 1) + " dB" : "exact")) + ")") }
        if let c = comparison { parts.append("changes against \(c.diff.b)") }
        if memory != nil { parts.append("memory by context") }
        let what = parts.joined(separator: ", ")
        guard let path else { return "\(source): \(what) in \(formatFixed(seconds, 2)) s" }
        return "\(path): \(what), from \(source) in \(formatFixed(seconds, 2)) s"
    }

    /// The worst-quantized tensors, lowest SNR first.
    public func worstQuantized(_ k: Int) -> [ConversionItem] {
        guard let q = quantization else { return [] }
        let measured = zip(q.conversion.items, q.conversion.repeats).filter { !$1 && $0.quality != nil }.map(\.0)
        return Array(measured.sorted { $0.quality!.snrDecibels < $1.quality!.snrDecibels }.prefix(k))
    }
}

extension ModelReport {
    /// The figures behind the page; the ledger, the conversion and the diff as their own
    /// commands write them (each with its schema).
    public var json: JSONValue {
        func cells(_ cs: [Cell], _ key: String, types: Bool = false) -> JSONValue {
            .array(cs.map { c in
                var o = JSONObject([
                    "layer": c.layer.map { .int($0) } ?? .null, "category": .string(c.group), "tensors": .int(c.tensors),
                    "parameters": .int(c.parameters), key: c.value.map { .double($0) } ?? .null,
                ])
                if types { o["types"] = .array(c.types.map { .string($0) }) }
                return .object(o)
            })
        }
        var o = JSONObject([
            "schema": .string(Self.jsonSchema), "source": .string(source), "seconds": .double(seconds),
            "ledger": ledger.json(warnings: warnings),
            "warnings": .array(warnings.map { .string($0) }),
            "marks": .object(JSONObject(uniqueKeysWithValues: ReportPage.expectedMarks(self).sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
        ])
        o["quantization"] = quantization.map { q in
            .object(JSONObject(["scheme": .string(q.scheme), "cells": cells(q.cells, "snr_db", types: true), "conversion": q.conversion.json]))
        } ?? .null
        o["quantization_skipped"] = quantizationSkipped.map { .string($0) } ?? .null
        o["comparison"] = comparison.map { c in
            .object(JSONObject(["cells": cells(c.cells, "relative_change"), "diff": c.diff.json(top: c.top)]))
        } ?? .null
        o["memory"] = memory.map { m in
            .object(JSONObject([
                "cache": .string(m.cache.rawValue), "machine_bytes": m.machineBytes.map { .int($0) } ?? .null,
                "contexts": .array(m.contexts.map { .int($0) }),
                "series": .array(m.series.map { s in
                    .object(JSONObject(["schemes": .array(s.names.map { .string($0) }), "bytes": .array(s.bytes.map { .int($0) })]))
                }),
            ]))
        } ?? .null
        return .object(o)
    }
}
