import BLIP2HF
import Foundation
import GraphIO
import GraphIR
import Testing
@testable import graphc

// `graphc blip2 run` in-process, through the same option parsing as the command line, on the committed
// transformers fixtures (Tests/BLIP2Tests/Fixtures); the written file is read back and compared.

let blip2Fixtures = repositoryRoot.appendingPathComponent("Tests/BLIP2Tests/Fixtures").path

@Suite struct BLIP2RunCommandTests {
    static func temporaryFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("graphc-\(name)-\(UUID().uuidString).safetensors").path
    }

    @Test(arguments: [("opt-a", "conditional-generation", "executor"), ("opt-b", "conditional-generation", "interpreter"),
                      ("t5", "conditional-generation", "optimized"), ("retrieval", "retrieval", "interpreter"),
                      ("retrieval-legacy", "retrieval", "optimized")])
    func runWritesOutputsThatMatchTransformers(_ fixture: String, _ model: String, _ engine: String) throws {
        let folder = blip2Fixtures + "/" + fixture
        let out = Self.temporaryFile(fixture)
        defer { try? FileManager.default.removeItem(atPath: out) }
        var arguments = ["--checkpoint", folder, "--model", model, "--inputs", folder + "/inputs.safetensors", "--outputs", out, "--engine", engine]
        if model == "conditional-generation" { arguments.append("--grads") }
        let line = try BLIP2RunCommand.parse(arguments).execute()
        #expect(line.hasPrefix("wrote "))
        let written = try SafetensorsFile(path: out).allTensors()
        let reference = try SafetensorsFile(path: folder + "/outputs.safetensors").allTensors()
        let failures = ParityTolerance.failures(reference: reference, candidate: written)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(Set(written.keys) == Set(reference.keys))
    }

    @Test func badArgumentsAndInputsAreOneLineErrors() throws {
        let folder = blip2Fixtures + "/opt-a"
        let out = Self.temporaryFile("bad")
        func message(_ arguments: [String]) -> String {
            do {
                _ = try BLIP2RunCommand.parse(arguments).execute()
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["--checkpoint", folder, "--model", "captioning", "--inputs", folder + "/inputs.safetensors", "--outputs", out])
            .contains("--model must be one of conditional-generation, retrieval, got 'captioning'"))
        #expect(message(["--checkpoint", folder, "--model", "retrieval", "--inputs", folder + "/inputs.safetensors", "--outputs", out,
                         "--engine", "gpu"]).contains("--engine must be optimized, executor or interpreter, got 'gpu'"))
        // The outputs file of a fixture is a valid safetensors file with the wrong tensors for an input.
        #expect(message(["--checkpoint", folder, "--model", "conditional-generation", "--inputs", folder + "/outputs.safetensors", "--outputs", out])
            .contains("unknown input"))
        #expect(message(["--checkpoint", folder, "--model", "conditional-generation", "--inputs", folder + "/model.safetensors", "--outputs", out])
            .contains("unknown input"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
