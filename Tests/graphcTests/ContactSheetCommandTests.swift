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
