import ArgumentParser
import Foundation
import GraphIO

/// `graphc import-clipart`: Debian's Open Clip Art packages → a jsonl caption file for training.
struct ImportClipartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-clipart",
        abstract: "Turn the openclipart-png + openclipart-svg packages into a jsonl of {\"image\", \"caption\"}.",
        discussion: """
            ROOT holds png/ and svg/: /usr/share/openclipart after `apt-get install openclipart-png openclipart-svg`, or <dir>/usr/share/openclipart after `dpkg-deb -x` of both packages. Captions come from each SVG's title and keywords (Docs/Data.md).

              graphc import-clipart /usr/share/openclipart --out clipart.jsonl
              graphc contact-sheet clipart.jsonl --shuffle --out clipart.png
            """
    )

    @Argument(help: ArgumentHelp("Folder with png/ and svg/.", valueName: "ROOT"))
    var root = "/usr/share/openclipart"

    @Option(help: "Output jsonl file.")
    var out: String

    func run() throws {
        do {
            let r = try ClipartImporter.importLibrary(root: root, to: out)
            print("wrote \(r.written) captions to \(out) (\(r.withoutSVG) without SVG and \(r.withoutTitle) without a title captioned from the path; \(r.duplicateLinks) duplicate links left out)")
        } catch let e as GraphIOError {
            throw CLIError(e.description)
        }
    }
}
