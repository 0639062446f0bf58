@testable import BLIP2
import GraphIR
import GraphRuntime
import Testing

/// The generation driver on the CPU executor gives what it gives on the reference interpreter.
@Suite struct GenerationExecutorTests {
    /// A runner that lowers each graph once and binds every graph to one parameter store.
    final class ExecutorRunner {
        let store = ParameterStore()
        var compiled: [ObjectIdentifier: Executable] = [:]

        init(_ parameters: [String: Tensor]) throws { try store.load(parameters) }

        func run(_ g: Graph, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
            let key = ObjectIdentifier(g)
            let exe = try compiled[key] ?? Executable(g, parameters: store, options: RuntimeOptions(threads: 1))
            compiled[key] = exe
            let out = try exe.run(inputs)
            var result: [String: Tensor] = [:]
            for name in out.names { result[name] = try out.tensor(name) }
            return result
        }
    }

    @Test(arguments: [LLMKind.opt, .t5, .llama])
    func greedyAndBeamMatchTheInterpreter(_ llm: LLMKind) throws {
        let (interpreted, c, params) = try GenerationTests.setup(llm, rows: 2, promptLength: 2)
        let runner = try ExecutorRunner(params)
        let executed = Generator(graphs: interpreted.graphs) { g, inputs in try runner.run(g, inputs) }
        let pixels = GenerationTests.pixels(c, rows: 2)
        let prompt = [[c.llm.bosTokenId, 5], [c.llm.bosTokenId, 9]]
        let settings = GenerationSettings(maxNewTokens: 3)
        let a = try interpreted.greedy(pixels: pixels, prompt: prompt, settings: settings)
        let b = try executed.greedy(pixels: pixels, prompt: prompt, settings: settings)
        #expect(a.map(\.tokens) == b.map(\.tokens))
        for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) < 1e-3) }

        let beam = GenerationSettings(maxNewTokens: 3, numBeams: 2, lengthPenalty: 1)
        let one = [GenerationTests.pixels(c, rows: 1)][0]
        let p = try interpreted.beamSearch(pixels: one, prompt: prompt[0], settings: beam)
        let q = try executed.beamSearch(pixels: one, prompt: prompt[0], settings: beam)
        #expect(p.tokens == q.tokens)
        #expect(abs(p.score - q.score) < 1e-3)
    }
}
