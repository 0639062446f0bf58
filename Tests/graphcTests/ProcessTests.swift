import Foundation
import Testing

// The built `graphc` binary run as a user runs it: exit status, stdout and stderr.

/// The `graphc` executable next to this test bundle (SwiftPM puts products and test bundles in one directory).
func graphcBinary() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        Bundle.main.bundleURL,
        Bundle.main.bundleURL.deletingLastPathComponent(),
    ].map { $0.appendingPathComponent("graphc") }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CLITestError("graphc binary not found in \(candidates.map(\.path))")
    }
    return found
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs graphc with `arguments`, optionally feeding nothing on stdin; waits at most 60 s.
func runGraphc(_ arguments: [String]) throws -> RunResult {
    let p = Process()
    p.executableURL = try graphcBinary()
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read before waiting so a large dump cannot fill the pipe and block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

@Suite struct ProcessTests {
    @Test func helpIsCompleteForTheRootAndEverySubcommand() throws {
        let root = try runGraphc(["--help"])
        #expect(root.status == 0)
        for word in ["USAGE", "dump", "models", "SUBCOMMANDS"] { #expect(root.stdout.contains(word)) }
        let dumpHelp = try runGraphc(["dump", "--help"])
        #expect(dumpHelp.status == 0)
        for flag in ["--config", "--format", "--stats", "--locations", "--stage", "--llm", "FILE.graph|MODEL"] {
            #expect(dumpHelp.stdout.contains(flag), "dump --help lacks \(flag)")
        }
        let modelsHelp = try runGraphc(["help", "models"])
        #expect(modelsHelp.status == 0 && modelsHelp.stdout.contains("List the models"))
    }

    @Test func dumpPrintsAModel() throws {
        let r = try runGraphc(["dump", "mlp"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("graph \"mlp\" {"))
        #expect(r.stderr.isEmpty)
    }

    @Test(arguments: [
        ["dump", "no-such-model"],
        ["dump", "/nonexistent/dir/x.graph"],
        ["dump", "mlp", "--config", "nope"],
        ["dump", "mlp", "--format", "svg"],
        ["dump"],
        ["frobnicate"],
    ])
    func badInvocationsFailWithOneLineOnStderr(_ arguments: [String]) throws {
        let r = try runGraphc(arguments)
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.first?.hasPrefix("Error:") == true, "stderr: \(r.stderr)")
        for banned in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction"] {
            #expect(!r.stderr.contains(banned))
        }
        // ArgumentParser adds a usage hint after errors in the command line itself; our errors are one line.
        if arguments.first == "dump" && arguments.count > 1 && !arguments.contains("svg") {
            #expect(lines.count == 1, "stderr: \(r.stderr)")
        }
    }

    @Test func malformedFileFailsWithOneLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-bad-\(UUID().uuidString).graph").path
        FileManager.default.createFile(atPath: path, contents: Data("graph \"g\" {\n  %0 = nope() : f32[1]\n}\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runGraphc(["dump", path])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains(path + ":2:"))
    }

    @Test func dotOutputRendersWithGraphviz() throws {
        let svg = try renderSVG(try runGraphc(["dump", "transformer-block", "--format", "dot"]))
        #expect(svg.contains("block.attention"))
    }

    @Test func examplesRenderWithGraphviz() throws {
        for file in exampleGraphs() {
            let svg = try renderSVG(try runGraphc(["dump", file.path, "--format", "dot"]))
            #expect(svg.contains("<svg"), "\(file.lastPathComponent)")
        }
    }

    /// Feeds a successful `graphc dump --format dot` run to `dot -Tsvg` and returns the SVG.
    private func renderSVG(_ dot: RunResult) throws -> String {
        #expect(dot.status == 0, "graphc: \(dot.stderr)")
        let dotPath = ["/usr/bin/dot", "/usr/local/bin/dot"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let dotPath else { throw CLITestError("Graphviz `dot` is not installed (.ci/run installs it)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: dotPath)
        p.arguments = ["-Tsvg"]
        let input = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = out
        p.standardError = err
        try p.run()
        input.fileHandleForWriting.write(Data(dot.stdout.utf8))
        try input.fileHandleForWriting.close()
        let svg = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "dot: \(errText)")
        #expect(svg.contains("<svg"))
        return svg
    }
}
