import Foundation
import GraphIO
import Testing
@testable import graphc

@Suite struct ContactSheetCommandTests {
    @Test func writesASheetOfTheProceduralSet() throws {
        let out = NSTemporaryDirectory() + "graphc-sheet-\(getpid()).png"
        let (n, skipped) = try ContactSheetCommand.parse(["--out", out, "--count", "6", "--columns", "3", "--cell-size", "32", "--augment"]).write()
        #expect(n == 6 && skipped.isEmpty)
        let sheet = try ImageDecoder.decode(path: out)
        #expect(sheet.width == 3 * 40 && sheet.height == 2 * (40 + 36))
    }

    @Test func badDataGivesOneLineError() throws {
        #expect(throws: GraphIOError.self) {
            _ = try ContactSheetCommand.parse(["/nonexistent/captions", "--out", "/tmp/x.png"]).write()
        }
        #expect(throws: CLIError.self) {
            _ = try ContactSheetCommand.parse(["--split", "nope", "--out", "/tmp/x.png"]).write()
        }
    }
}

@Suite struct ImportClipartCommandTests {
    @Test func importsAFolderThenTheSheetReadsIt() throws {
        let root = NSTemporaryDirectory() + "graphc-clipart-\(getpid())"
        try FileManager.default.createDirectory(atPath: root + "/png/animals", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/svg/animals", withIntermediateDirectories: true)
        try PNGWriter.write(RGBImage(width: 5, height: 5, fill: (200, 0, 0)), to: root + "/png/animals/cat_01.png")
        let svg = "<svg><metadata><cc:Work><dc:title>Red Cat</dc:title></cc:Work></metadata></svg>"
        FileManager.default.createFile(atPath: root + "/svg/animals/cat_01.svg", contents: Data(svg.utf8))
        try ImportClipartCommand.parse([root, "--out", root + "/c.jsonl"]).run()
        let data = try CaptionFileDataset.open(root + "/c.jsonl")
        #expect(data.entries.map(\.caption) == ["clip art of red cat"])
        let (n, _) = try ContactSheetCommand.parse([root + "/c.jsonl", "--out", root + "/s.png", "--cell-size", "16"]).write()
        #expect(n == 1)
        #expect(throws: CLIError.self) { try ImportClipartCommand.parse([root + "/nope", "--out", root + "/x.jsonl"]).run() }
    }
}
