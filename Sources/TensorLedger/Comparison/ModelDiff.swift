// `diff`: what changed between two checkpoints of one architecture (a fine-tune and its
// base, or a .tlm file and its source), per tensor and rolled up per ledger category and
// per layer: the relative change ‖B − A‖ / ‖A‖, the largest absolute change, and the
// cosine similarity. Tensors are read one at a time, so memory stays near one tensor.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime
import CKernels

public struct ModelDiff: Sendable {
    /// Sums that the figures come from; they add up across tensors.
    public struct Sums: Sendable {
        public var count = 0
        public var aa = 0.0, bb = 0.0, ab = 0.0, dd = 0.0
        public var maxAbsChange: Float = 0

        public var relativeChange: Double { aa > 0 ? (dd / aa).squareRoot() : (dd > 0 ? .infinity : 0) }
        public var cosine: Double { aa > 0 && bb > 0 ? ab / (aa * bb).squareRoot() : (aa == bb ? 1 : 0) }
        public var rmse: Double { count > 0 ? (dd / Double(count)).squareRoot() : 0 }

        mutating func merge(_ o: Sums) {
            count += o.count
            aa += o.aa; bb += o.bb; ab += o.ab; dd += o.dd
            maxAbsChange = max(maxAbsChange, o.maxAbsChange)
        }

        var json: JSONValue {
            .object(JSONObject([
                "parameters": .int(count), "relative_change": .double(relativeChange), "max_abs_change": .double(Double(maxAbsChange)),
                "cosine": .double(cosine), "rmse": .double(rmse),
            ]))
        }
    }

    public struct TensorChange: Sendable {
        public var name: String
        public var shape: [Int]
        public var storageA: String, storageB: String
        /// The ledger row ("Query+Key+Value" for a fused matrix) and the layer, if any.
        public var group: String
        public var layer: Int?
        public var sums: Sums
    }

    public var a: String, b: String
    public var tensors: [TensorChange]
    public var onlyInA: [String], onlyInB: [String]
    /// Tensors in both whose shapes differ: name, shape in A, shape in B.
    public var shapeMismatches: [(name: String, a: [Int], b: [Int])]
    public var seconds: Double
    public var inputBytes: Int

    public static let jsonSchema = "tensorledger.diff/1"

    public static func compare(_ pathA: String, _ pathB: String) throws -> ModelDiff {
        let clock = Stopwatch()
        let ra = try TensorValueReader(path: pathA), rb = try TensorValueReader(path: pathB)
        let family = ra.config?.family ?? rb.config?.family ?? TensorClassifier.detectFamily(ra.tensors.map(\.name))
        // Buffers (mask tensors, rope tables) are not parameters: neither compared nor missed.
        func parameters(_ r: TensorValueReader) -> [TensorInfo] {
            r.tensors.filter { t in family.map { TensorClassifier.role(of: t, family: $0) != .buffer } ?? true }
        }
        let tensorsA = parameters(ra), tensorsB = parameters(rb)
        let shapesB = Dictionary(tensorsB.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let namesA = Set(tensorsA.map(\.name))
        var diff = ModelDiff(a: pathA, b: pathB, tensors: [], onlyInA: [], onlyInB: tensorsB.map(\.name).filter { !namesA.contains($0) },
                             shapeMismatches: [], seconds: 0, inputBytes: 0)
        for t in tensorsA {
            guard let other = shapesB[t.name] else { diff.onlyInA.append(t.name); continue }
            guard other.shape == t.shape else { diff.shapeMismatches.append((t.name, t.shape, other.shape)); continue }
            // A band of rows at a time (about a million values), so memory stays near a band,
            // not a tensor; a matrix that conversion transposed is read whole.
            let rows = t.shape.first ?? 1, rowValues = t.elementCount / max(rows, 1)
            // Matrices go by bands of rows; anything else (a stack of experts' matrices) whole.
            let band = ra.readsByRows(t.name) && rb.readsByRows(t.name) && t.shape.count == 2 ? max(1, (1 << 20) / max(rowValues, 1)) : rows
            var sums = Sums()
            for start in stride(from: 0, to: max(rows, 1), by: max(band, 1)) {
                let range = start..<min(start + band, rows)
                let va = try ra.values(t.name, rows: range), vb = try rb.values(t.name, rows: range)
                // Every value of the band on both sides, or no figure at all.
                guard va.values.count == range.count * rowValues, vb.values.count == va.values.count else {
                    throw GenerationError.cannotRun("\(t.name): read \(va.values.count) and \(vb.values.count) values of rows \(range) where \(range.count * rowValues) were expected; not compared")
                }
                sums.merge(ModelDiff.sums(va.values, vb.values))
                ra.release(t.name, rows: range)
                rb.release(t.name, rows: range)
            }
            diff.inputBytes += t.byteCount + other.byteCount
            let role = family.map { TensorClassifier.role(of: t, family: $0) } ?? .unmatched
            let group: String
            switch role {
            case .matrix(let c, _): group = c.rawValue
            case .fusedQKV: group = ModelDiff.fusedGroup
            default: group = LedgerCategory.other.rawValue
            }
            diff.tensors.append(TensorChange(name: t.name, shape: t.shape, storageA: ra.storage[t.name] ?? "", storageB: rb.storage[t.name] ?? "",
                                             group: group, layer: TensorClassifier.layerIndex(of: t.name), sums: sums))
        }
        guard !diff.tensors.isEmpty else {
            throw GenerationError.cannotRun("\(pathA) and \(pathB) have no tensor of the same name and shape to compare (\(formatCount(tensorsA.count)) and \(formatCount(tensorsB.count)) tensors): they are not one architecture")
        }
        diff.seconds = clock.seconds
        return diff
    }

    /// The sums over two equally long vectors (the C kernel; ReferenceKernels.compare is its twin).
    static func sums(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Sums {
        var out = [Double](repeating: 0, count: 5)
        tl_compare_f32(a.baseAddress, b.baseAddress, a.count, &out)
        var s = Sums()
        s.count = a.count
        (s.aa, s.bb, s.ab, s.dd, s.maxAbsChange) = (out[0], out[1], out[2], out[3], Float(out[4]))
        return s
    }

    /// The group of a fused attention matrix, which no one ledger row holds.
    public static let fusedGroup = "Query+Key+Value"
    /// Groups in the ledger's order, a fused attention matrix beside the three it holds.
    public static let groupOrder = LedgerCategory.allCases.flatMap { $0 == .value ? [$0.rawValue, fusedGroup] : [$0.rawValue] }

    /// The sums per ledger row, in ledger order, then per layer.
    public var byGroup: [(group: String, tensors: Int, sums: Sums)] {
        let order = Self.groupOrder
        var out: [String: (Int, Sums)] = [:]
        for t in tensors { var e = out[t.group] ?? (0, Sums()); e.0 += 1; e.1.merge(t.sums); out[t.group] = e }
        return out.sorted { (order.firstIndex(of: $0.key) ?? 99) < (order.firstIndex(of: $1.key) ?? 99) }.map { ($0.key, $0.value.0, $0.value.1) }
    }

    public var byLayer: [(layer: Int, sums: Sums)] {
        var out: [Int: Sums] = [:]
        for t in tensors { if let l = t.layer { out[l, default: Sums()].merge(t.sums) } }
        return out.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    public var total: Sums { tensors.reduce(into: Sums()) { $0.merge($1.sums) } }

    /// The `k` tensors that changed most, relatively.
    public func mostChanged(_ k: Int) -> [TensorChange] {
        Array(tensors.sorted { $0.sums.relativeChange > $1.sums.relativeChange }.prefix(k))
    }

    public var megabytesPerSecond: Double { seconds > 0 ? Double(inputBytes) / seconds / 1e6 : 0 }

    // MARK: Reports

    public func textReport(top: Int) -> String {
        var out = ["\(a) → \(b): \(tensors.count) tensors compared, \(formatCount(total.count)) values; relative change "
                   + "\(ModelDiff.percent(total.relativeChange)), cosine \(formatFixed(total.cosine, 6)); "
                   + "\(formatFixed(seconds, 2)) s, \(formatFixed(megabytesPerSecond, 0)) MB/s", ""]
        func row(_ s: Sums) -> [String] {
            [formatCount(s.count), ModelDiff.percent(s.relativeChange), ConversionReport.scientific(Double(s.maxAbsChange)), formatFixed(s.cosine, 6)]
        }
        let headers = ["Parameters", "‖B−A‖/‖A‖", "Max |Δ|", "Cosine"]
        var groups = TextTable(headers: ["Category", "Tensors"] + headers, alignments: [.left, .right, .right, .right, .right, .right])
        for g in byGroup { groups.add([g.group, String(g.tensors)] + row(g.sums)) }
        out.append(groups.render())
        if !byLayer.isEmpty {
            out.append("")
            var layers = TextTable(headers: ["Layer"] + headers, alignments: [.right, .right, .right, .right, .right])
            for l in byLayer { layers.add([String(l.layer)] + row(l.sums)) }
            out.append(layers.render())
        }
        out.append("")
        out.append("Most changed:")
        var most = TextTable(headers: ["Tensor", "Shape", "Stored"] + headers, alignments: [.left, .left, .left, .right, .right, .right, .right])
        for t in mostChanged(top) {
            most.add([t.name, ForwardTrace.shape(t.shape), t.storageA == t.storageB ? t.storageA : "\(t.storageA) → \(t.storageB)"] + row(t.sums))
        }
        out.append(most.render())
        if !onlyInA.isEmpty { out.append("Only in \(a): " + Ledger.abbreviatedList(onlyInA)) }
        if !onlyInB.isEmpty { out.append("Only in \(b): " + Ledger.abbreviatedList(onlyInB)) }
        for m in shapeMismatches { out.append("Shapes differ: \(terminalSafe(m.name)) is \(ForwardTrace.shape(m.a)) in A, \(ForwardTrace.shape(m.b)) in B") }
        return out.joined(separator: "\n")
    }

    static func percent(_ x: Double) -> String { x.isFinite ? formatFixed(x * 100, 4) + "%" : "∞" }

    public func json(top: Int) -> JSONValue {
        func tensor(_ t: TensorChange) -> JSONValue {
            var o = t.sums.json.object!
            o["name"] = .string(t.name)
            o["shape"] = .array(t.shape.map { .int($0) })
            o["stored_a"] = .string(t.storageA)
            o["stored_b"] = .string(t.storageB)
            o["category"] = .string(t.group)
            o["layer"] = t.layer.map { .int($0) } ?? .null
            return .object(o)
        }
        return .object(JSONObject([
            "schema": .string(ModelDiff.jsonSchema),
            "a": .string(a), "b": .string(b),
            "total": total.json,
            "categories": .array(byGroup.map { g in var o = g.sums.json.object!; o["category"] = .string(g.group); o["tensors"] = .int(g.tensors); return .object(o) }),
            "layers": .array(byLayer.map { l in var o = l.sums.json.object!; o["layer"] = .int(l.layer); return .object(o) }),
            "most_changed": .array(mostChanged(top).map(tensor)),
            "tensors": .array(tensors.map(tensor)),
            "only_in_a": .array(onlyInA.map { .string($0) }),
            "only_in_b": .array(onlyInB.map { .string($0) }),
            "shape_mismatches": .array(shapeMismatches.map { m in
                .object(JSONObject(["name": .string(m.name), "shape_a": .array(m.a.map { .int($0) }), "shape_b": .array(m.b.map { .int($0) })]))
            }),
            "seconds": .double(seconds), "input_bytes": .int(inputBytes),
        ]))
    }
}
