// The report page rendered in a real browser, headless Chromium (Debian's `chromium`),
// when one is installed: the page loads without a console message, the browser's own DOM
// holds every chart with its marks (a tag left open would move marks into the wrong chart),
// and a screenshot is taken. Skipped, and said so, where there is no Chromium.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ReportBrowserTests {
    static let chromium = onPath("chromium", "chromium-browser", "google-chrome")

    @Test(.enabled(if: chromium != nil, "Chromium is not installed (apt-get install chromium)"))
    func thePageRendersInChromium() throws {
        let dir = TemporaryDirectory()
        var options = ModelReport.Options()
        options.compare = Fixtures.model("tiny-genesis-finetuned")
        let report = try ModelReport.make(Fixtures.model("tiny-genesis"), options: options)
        let page = dir.file("report.html"), shot = dir.file("report.png")
        try ReportPage.write(report, to: page, force: false, protecting: [])
        let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + dir.file("profile"),
                       "--enable-logging=stderr", "--v=0"]
        let dom = try #require(ChildProcess.run(Self.chromium!, browser + ["--dump-dom", "file://" + page]))
        #expect(dom.status == 0, "\(dom.stderr)")
        #expect(dom.stdout.contains("<footer id=\"end\">"), "the page was not read to its end")
        #expect(!dom.stderr.contains("CONSOLE"), "the page wrote to the console: \(dom.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") })")
        let expected = ReportPage.expectedMarks(report)
        #expect(expected.count == 5 && expected.values.allSatisfy { $0 > 0 })
        #expect(ReportTests.marks(in: dom.stdout) == expected)
        let picture = try #require(ChildProcess.run(Self.chromium!, browser + ["--screenshot=" + shot, "--window-size=1000,2400", "file://" + page]))
        #expect(picture.status == 0, "\(picture.stderr)")
        let png = try readWholeFile(shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 30_000, "\(png.count) bytes")
    }
}
