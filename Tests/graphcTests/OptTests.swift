import Foundation
import GraphIR
import GraphPasses
import Testing
@testable import graphc

// `graphc opt FILE.graph --passes ...`, and every registry model through every pass on the interpreter.

@Suite struct OptTests {
    static let text = """
        graph "opt" {
          %0 = input {name = "x"} : f32[2, 3]
          %1 = constant {value = [1.0]} : f32[]
          %2 = mul(%0, %1) : f32[2, 3]
          %3 = tanh(%2) : f32[2, 3]
          %4 = exp(%3) : f32[2, 3]
          output "y" = %4
        }

        """

    func withFile<R>(_ body: (String) throws -> R) throws -> R {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).graph").path
        try Self.text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    @Test func runsPassesAndPrintsParseableIR() throws {
        let out = try withFile { try Opt.parse([$0, "--passes", "canonicalize,fuse"]).render() }
        let g = try GraphParser.parse(out)
        #expect(g.nodes.map(\.op) == [.input, .fusedElementwise])
        #expect(out.contains(#"expr = "exp(tanh($0))""#))
    }

    @Test func printAfterAllNumbersEachPassAndStatsReportEach() throws {
        let dumps = try withFile { try Opt.parse([$0, "--passes", "canonicalize,fuse", "--print-after-all"]).render() }
        #expect(dumps.contains("IR dump after 1: canonicalize") && dumps.contains("IR dump after 2: fuse"))
        let stats = try withFile { try Opt.parse([$0, "--passes", "canonicalize,fuse", "--stats"]).render() }
        let lines = stats.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("canonicalize") && lines[1].contains("kernels 2 -> 1"))
    }

    @Test func badPassesAreOneLineErrors() throws {
        #expect(throws: CLIError.self) { try withFile { try Opt.parse([$0, "--passes", "nonsense"]).render() } }
        #expect(throws: CLIError.self) { try withFile { try Opt.parse([$0, "--passes", "dce", "--after", "fuse"]).render() } }
        #expect(throws: CLIError.self) { try Opt.parse(["/no/such.graph", "--passes", "dce"]).render() }
    }

    /// Tolerance: 0 for every pass but fuse (its attention step skips the f32 rounding of scores): 1e-5.
    /// BLIP-2 runs in its `test` config (stage 1) and through the pipelines only, to keep the interpreter quick.
    @Test func everyRegistryModelKeepsMeaningUnderEveryPass() throws {
        for entry in ModelRegistry.standard.entries {
            let isBLIP2 = entry.name == "blip2"
            let g = try ModelRegistry.standard.build(entry.name, isBLIP2 ? ModelOptions(config: "test", stage: 1) : ModelOptions())
            var inputs: [String: Tensor] = [:], parameters: [String: Tensor] = [:]
            var state: UInt64 = 12345
            func next() -> Double {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Double(state >> 11) * 0x1p-53
            }
            for n in g.nodes {
                let values = (0..<n.type.count).map { _ in n.type.dtype.isFloat ? next() * 2 - 1 : Double(Int(next() * 2)) }
                if n.op == .input, let name = n.name { inputs[name] = Tensor(n.type.dtype, n.type.shape, values) }
                if n.op == .parameter, let name = n.name { parameters[name] = Tensor(n.type.dtype, n.type.shape, values) }
            }
            let before = try Interpreter().run(g, inputs: inputs, parameters: parameters)
            for spec in (isBLIP2 ? [] : Passes.all.map(\.name)) + Passes.pipelines.keys.sorted() {
                let ctx = PassContext(parameterValues: parameters)
                let (out, _) = try PassManager(passes: try Passes.parseList(spec), verify: Verifier.verify, render: { _ in "" }).run(g, context: ctx)
                let after = try Interpreter().run(out, inputs: inputs, parameters: ctx.parameterValues)
                let tolerance = spec == "canonicalize" || spec == "cse" || spec == "dce" || spec == "freeze" || spec == "fold-masks" ? 0 : 1e-5
                for (k, t) in before {
                    #expect(after[k].map { maxAbsDifference(t, $0) <= tolerance } == true, "\(entry.name) after \(spec): output \(k)")
                }
            }
        }
    }
}
