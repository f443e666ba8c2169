// `report`: every figure on the page is the one the command that owns it prints (convert
// --report, diff, plan, ledger), every chart has a mark per figure, the page is self-
// contained and escapes what files say, and no file but an earlier report is replaced.
// With Chromium installed, the page is rendered in it (ReportBrowserTests).

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ReportTests {
    static func json(_ args: [String]) throws -> JSONObject {
        let r = CLI.run(args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try #require(try JSON.parse(Array(r.stdout.utf8)).object)
    }

    /// The marks of each chart, counted in the page's text by the chart's id.
    static func marks(in html: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for part in html.split(separator: "<svg id=\"").dropFirst() {
            let id = String(part.prefix { $0 != "\"" })
            let body = part.split(separator: "</svg>", maxSplits: 1).first ?? part
            out[id] = body.split(separator: "class=\"mark\"", omittingEmptySubsequences: false).count - 1
        }
        return out
    }

    /// Merges per-tensor errors as their sums: the SNR of a cell from convert's own rows.
    static func snr(_ tensors: [JSONObject]) -> Double {
        var sse = 0.0, ss = 0.0
        for t in tensors {
            let q = t["quality"]!.object!, n = Double(t["shape"]!.array!.reduce(1) { $0 * $1.int! })
            let e = q["rmse"]!.number! * q["rmse"]!.number! * n
            sse += e
            ss += e * pow(10, q["snr_db"]!.number! / 10)
        }
        return 10 * log10(ss / sse)
    }

    @Test func theQuantizationMapIsConvertsReportPerLayer() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.model("tiny-genesis")
        let report = try Self.json(["report", model, "--weights", "Q4_K_M", "--json"])
        let written = try Self.json(["convert", model, dir.file("m.tlm"), "--weights", "Q4_K_M", "--report", "--json"])
        let tensors = written["tensors"]!.array!.map { $0.object! }.filter { $0["quality"] != nil && $0["quality"]!.object!["snr_db"] != .null }
        let cells = report["quantization"]!.object!["cells"]!.array!.map { $0.object! }
        #expect(cells.count == 17)  // the embedding, and 4 layers × (Q+K+V, Output, Up, Down)
        var covered = 0
        for cell in cells {
            let layer = cell["layer"]!.int, group = cell["category"]!.string!
            let members = tensors.filter { t in
                let name = t["name"]!.string!
                let g = t["category"]!.string! == "query+key+value" ? "Query+Key+Value" : LedgerCategory.allCases.first { $0.identifier == t["category"]!.string! }!.rawValue
                return TensorClassifier.layerIndex(of: name) == layer && g == group
            }
            #expect(members.count == cell["tensors"]!.int!, "\(layer as Any) \(group)")
            covered += members.count
            let expected = Self.snr(members), got = cell["snr_db"]!.number!
            #expect(abs(expected - got) < 1e-6 * expected, "layer \(layer as Any) \(group): \(got) dB, convert's tensors give \(expected)")
        }
        #expect(covered == tensors.count, "every quantized tensor is in one cell")
        #expect(report["quantization"]!.object!["conversion"]!.object!["output"]!.string! == "", "nothing is written")
        #expect(try directoryEntries(dir.path).sorted() == ["m.tlm"])
    }

    @Test func theChangeMapIsDiffPerLayer() throws {
        let a = Fixtures.model("tiny-genesis"), b = Fixtures.model("tiny-genesis-finetuned")
        let report = try Self.json(["report", a, "--compare", b, "--weights", "none", "--json"])
        let diff = try ModelDiff.compare(a, b)
        let cells = report["comparison"]!.object!["cells"]!.array!.map { $0.object! }
        #expect(cells.count == Set(diff.tensors.map { "\($0.layer ?? -1) \($0.group)" }).count)
        for cell in cells {
            let members = diff.tensors.filter { $0.layer == cell["layer"]!.int && $0.group == cell["category"]!.string! }
            let sums = members.reduce(into: ModelDiff.Sums()) { $0.merge($1.sums) }
            #expect(abs(sums.relativeChange - cell["relative_change"]!.number!) <= 1e-12 + 1e-9 * sums.relativeChange)
        }
        // The fine-tune moved layers 1 and 3 (make_finetune_fixture.py); the map says so.
        let moved = Set(cells.filter { $0["relative_change"]!.number! > 0.05 }.compactMap { $0["layer"]!.int })
        #expect(moved == [1, 3])
        #expect(report["quantization"] == .null && report["quantization_skipped"]!.string! == "not asked for")
    }

    @Test func theMemoryLinesArePlansFigures() throws {
        let model = Fixtures.model("tiny-llama")
        let report = try Self.json(["report", model, "--weights", "none", "--context", "1000", "--kv", "f32", "--json"])
        let memory = report["memory"]!.object!
        let contexts = memory["contexts"]!.array!.map { $0.int! }
        #expect(contexts.first == 1 && contexts.last == 1000 && contexts.count == 17)
        let series = memory["series"]!.array!.map { $0.object! }
        for context in [contexts[0], contexts[8], contexts[16]] {
            let plan = try Self.json(["plan", model, "--context", String(context), "--kv", "f32", "--json"])
            let i = contexts.firstIndex(of: context)!
            for scheme in plan["schemes"]!.array!.map({ $0.object! }) {
                let name = scheme["name"]!.string!
                let line = try #require(series.first { $0["schemes"]!.array!.contains(.string(name)) }, "no line for \(name)")
                #expect(line["bytes"]!.array![i].int == scheme["total_bytes"]!.int, "\(name) at \(context)")
            }
        }
        // f16 and bf16 weigh the same: one line for both.
        #expect(series.contains { $0["schemes"]!.array! == [.string("f16"), .string("bf16")] })
    }

    @Test func aMixtureShowsWhatOneTokenUses() throws {
        let report = try ModelReport.make(Fixtures.model("tiny-mixtral"), options: { var o = ModelReport.Options(); o.weights = nil; return o }())
        let l = report.ledger
        let active = try #require(l.activeParameters)
        let perCategory = LedgerCategory.allCases.filter { !l.row($0).tied }.reduce(0) { $0 + l.activeParameters($1) }
        #expect(perCategory == active)
        #expect(l.activeParameters(.upProjection) < l.row(.upProjection).parameters && l.activeParameters(.query) == l.row(.query).parameters)
        let page = ReportPage.html(report)
        #expect(Self.marks(in: page)["ledger-bars"] == 2 * l.rows.filter { $0.parameters > 0 }.count)
        #expect(page.contains("\(formatCount(active)) active per token"))
    }

    @Test(arguments: ["tiny-genesis", "tiny-phi3", "tiny-qwen3-moe"])
    func everyChartHasAMarkPerFigure(_ name: String) throws {
        var options = ModelReport.Options()
        options.compare = name == "tiny-genesis" ? Fixtures.model("tiny-genesis-finetuned") : nil
        let report = try ModelReport.make(Fixtures.model(name), options: options)
        let page = ReportPage.html(report)
        let marks = Self.marks(in: page)
        #expect(marks == ReportPage.expectedMarks(report))
        // Each count from its own source: ledger rows, layers × categories, cells.
        #expect(marks["ledger-bars"]! >= 8 && marks["layer-columns"]! == report.ledger.layers.reduce(0) { $0 + $1.parameters.count })
        #expect(marks["quantization-map"] == report.quantization!.cells.count && marks["memory-lines"]! >= 4)
        #expect(marks["change-map"] == (options.compare == nil ? nil : report.comparison!.cells.count))
        // Self-contained and script-free: nothing to fetch, nothing to run.
        for forbidden in ["://", "<script", "src=", "href=", "@import", "url(http"] { #expect(!page.contains(forbidden), "\(forbidden)") }
        // Every mark is readable on hover and by screen readers.
        #expect(page.split(separator: "class=\"mark\"").dropFirst().allSatisfy { $0.split(separator: ">", maxSplits: 1).last?.hasPrefix("<title>") == true })
    }

    @Test func namesFromFilesAreEscaped() throws {
        let dir = TemporaryDirectory()
        let hostile = dir.file("a<b>&\"c'")
        try makeDirectory(hostile)
        try SafetensorsWriter.write(path: hostile + "/model.safetensors", tensors: [
            TensorSpec(name: "</title><script>alert(1)</script>.weight", dtype: .float32, shape: [64, 64]),
        ], overwrite: false) { _, out in
            for i in 0..<(out.count / 4) { out.storeBytes(of: Float(i % 7) - 3, toByteOffset: 4 * i, as: Float.self) }
        }
        let out = dir.file("r.html")
        let r = CLI.run(["report", hostile, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let page = String(decoding: try readWholeFile(out), as: UTF8.self)
        #expect(!page.contains("<script") && !page.contains("a<b>"))
        #expect(page.contains("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;.weight") && page.contains("a&lt;b&gt;&amp;&quot;c&#39;"))
    }

    @Test func onlyAnEarlierReportIsReplaced() throws {
        let dir = TemporaryDirectory()
        let model = Fixtures.model("tiny-genesis"), page = dir.file("report.html")
        writeFile(page, Array("<html>someone's page</html>".utf8))
        var r = CLI.run(["report", model, "-o", page, "--weights", "none"])
        #expect(r.status == 2 && r.stderr.contains("already exists"), "\(r.stderr)")
        #expect(try readWholeFile(page) == Array("<html>someone's page</html>".utf8))
        #expect(CLI.run(["report", model, "-o", page, "--weights", "none", "--force"]).status == 0)
        let first = try readWholeFile(page)
        r = CLI.run(["report", model, "-o", page, "--weights", "q8"])
        let second = try readWholeFile(page)
        #expect(r.status == 0 && second != first, "\(r.stderr)")
        // Never the model itself, even with --force; and nothing is left behind.
        let gguf = Fixtures.path("gguf/tiny-qwen2-q8_0.gguf"), copy = dir.file("m.gguf")
        copyFile(gguf, copy)
        r = CLI.run(["report", copy, "-o", copy, "--force"])
        let (kept, original) = (try readWholeFile(copy), try readWholeFile(gguf))
        #expect(r.status == 2 && kept == original, "\(r.stderr)")
        #expect(try directoryEntries(dir.path).sorted() == ["m.gguf", "report.html"])
    }

    @Test func aTLMFileIsDrawnWithoutAQuantizationPass() throws {
        let dir = TemporaryDirectory()
        #expect(CLI.run(["convert", Fixtures.model("tiny-llama"), dir.file("m.tlm")]).status == 0)
        let report = try Self.json(["report", dir.file("m.tlm"), "--json"])
        #expect(report["quantization"] == .null && report["quantization_skipped"]!.string!.contains(".tlm"))
        #expect(report["memory"] != .null && report["marks"]!.object!["ledger-bars"]!.int! >= 8)
        let r = CLI.run(["report", dir.file("m.tlm"), "--weights", "Q9_X"])
        #expect(r.status == 64 && r.stderr.contains("--weights must be none or one of"), "\(r.stderr)")
    }
}
