@testable import BLIP2
import GraphIR
import Testing

/// Generation with the KV cache against recomputing the whole sequence, on the interpreter.
@Suite struct GenerationTests {
    static let maxNew = 4

    static func setup(_ llm: LLMKind, rows: Int, promptLength: Int) throws -> (Generator, BLIP2Config, [String: Tensor]) {
        let c = BLIP2Config.test(llm: llm)
        let graphs = try GenerationGraphs.build(config: c, rows: rows, promptLength: promptLength, maxNewTokens: maxNew)
        // Parameters are materialised by name, so every graph of the model gets the same values.
        var params = graphs.prefill.initialParameters(seed: 11)
        params.merge(graphs.decode.initialParameters(seed: 11)) { a, _ in a }
        let p = params
        let generator = Generator(graphs: graphs) { g, inputs in try Interpreter().run(g, inputs: inputs, parameters: p) }
        return (generator, c, p)
    }

    static func pixels(_ c: BLIP2Config, rows: Int) -> Tensor {
        let n = rows * c.vision.channels * c.vision.imageSize * c.vision.imageSize
        return Tensor(.f32, [rows, c.vision.channels, c.vision.imageSize, c.vision.imageSize],
                      (0..<n).map { Double(($0 * 37) % 101) / 50 - 1 })
    }

    /// Next-token logits `[rows, V]` by running the whole sequence without a cache.
    static func referenceLogits(_ c: BLIP2Config, params: [String: Tensor], pixels: Tensor, prompt: [[Int]], generated: [[Int]]) throws -> Tensor {
        let rows = prompt.count
        switch c.llm.kind {
        case .opt, .llama:
            let full = zip(prompt, generated).map { $0 + $1 }
            let g = try GenerationGraphs.buildPrefill(c, rows: rows, promptLength: full[0].count, capacity: c.qformer.numQueryTokens + full[0].count)
            return try #require(try Interpreter().run(g, inputs: ["pixel_values": pixels, "input_ids": Tensor(ints: full.flatMap { $0 }, shape: [rows, full[0].count])],
                                                      parameters: params)["logits"])
        case .t5:
            let s = generated[0].count
            let g = try BLIP2Model.build(config: c, stage: .two, mode: .eval,
                                         shapes: BLIP2Shapes(batch: rows, textLength: prompt[0].count, targetLength: s + 1))
            let labels = generated.map { $0 + [0] }.flatMap { $0 }
            let out = try Interpreter().run(g, inputs: ["pixel_values": pixels,
                                                        "input_ids": Tensor(ints: prompt.flatMap { $0 }, shape: [rows, prompt[0].count]),
                                                        "attention_mask": Tensor(.i32, [rows, prompt[0].count], repeating: 1),
                                                        "labels": Tensor(ints: labels, shape: [rows, s + 1])], parameters: params)
            let logits = try #require(out["logits"])
            let v = c.llm.vocabulary
            var last: [Double] = []
            for r in 0..<rows {
                let start: Int = (r * (s + 1) + s) * v
                last.append(contentsOf: logits.scalars[start..<(start + v)])
            }
            return Tensor(.f32, [rows, v], last)
        }
    }

    @Test(arguments: [LLMKind.opt, .llama, .t5])
    func cachedDecodingEqualsRecomputation(_ llm: LLMKind) throws {
        let (gen, c, params) = try Self.setup(llm, rows: 2, promptLength: 2)
        let pixels = Self.pixels(c, rows: 2)
        let prompt = [[c.llm.bosTokenId, 5], [c.llm.bosTokenId, 9]]
        var state = try gen.start(pixels: pixels, prompt: prompt)
        var generated: [[Int]] = [[], []]
        for _ in 0..<3 {
            let reference = try Self.referenceLogits(c, params: params, pixels: pixels, prompt: prompt, generated: generated)
            #expect(maxAbsDifference(state.logits, reference) < 1e-4)
            let v = c.llm.vocabulary
            let next = (0..<2).map { r in (0..<v).max { state.logits.scalars[r * v + $0] < state.logits.scalars[r * v + $1] }! }
            for r in 0..<2 { generated[r].append(next[r]) }
            state = try gen.advance(state, tokens: next)
        }
    }

    @Test func greedyStopsAtStopTokensAndRespectsMinimumLength() throws {
        let (gen, c, _) = try Self.setup(.opt, rows: 1, promptLength: 1)
        let pixels = Self.pixels(c, rows: 1)
        let free = try gen.greedy(pixels: pixels, prompt: [[c.llm.bosTokenId]], settings: GenerationSettings(maxNewTokens: Self.maxNew))[0]
        #expect(free.tokens.count == Self.maxNew)
        let stop = free.tokens[1]
        let stopped = try gen.greedy(pixels: pixels, prompt: [[c.llm.bosTokenId]],
                                     settings: GenerationSettings(maxNewTokens: Self.maxNew, stopTokens: [stop]))[0]
        #expect(stopped.tokens == Array(free.tokens.prefix(while: { $0 != stop })) + [stop])
        let first = free.tokens[0]
        let delayed = try gen.greedy(pixels: pixels, prompt: [[c.llm.bosTokenId]],
                                     settings: GenerationSettings(maxNewTokens: 2, stopTokens: [first], minNewTokens: 1))[0]
        #expect(delayed.tokens.first != first)
    }

    @Test func beamSearchScoresAreLengthNormalisedLogProbabilities() throws {
        let (gen1, c, params) = try Self.setup(.opt, rows: 1, promptLength: 1)
        let pixels = Self.pixels(c, rows: 1)
        let prompt = [c.llm.bosTokenId]
        let greedy = try gen1.greedy(pixels: pixels, prompt: [prompt], settings: GenerationSettings(maxNewTokens: 3))[0]
        let oneBeam = try gen1.beamSearch(pixels: pixels, prompt: prompt, settings: GenerationSettings(maxNewTokens: 3, numBeams: 1, lengthPenalty: 0))
        #expect(oneBeam.tokens == greedy.tokens)
        #expect(abs(oneBeam.score - greedy.score) < 1e-9)

        let (gen3, _, _) = try Self.setup(.opt, rows: 3, promptLength: 1)
        let penalty = 0.7
        let best = try gen3.beamSearch(pixels: pixels, prompt: prompt, settings: GenerationSettings(maxNewTokens: 3, numBeams: 3, lengthPenalty: penalty))
        #expect(best.tokens.count == 3)
        // Recompute the hypothesis' log-probability without the cache.
        var logp = 0.0
        for s in 0..<best.tokens.count {
            let logits = try Self.referenceLogits(c, params: params, pixels: pixels, prompt: [prompt], generated: [Array(best.tokens.prefix(s))])
            let lp = gen3.logProbabilities(logits, row: 0, step: s, settings: GenerationSettings(maxNewTokens: 3))
            logp += lp[best.tokens[s]]
        }
        #expect(abs(best.score - logp / pow(3.0, penalty)) < 1e-4)
        // A 3-beam search finds a sequence at least as likely as greedy's (here, with equal lengths).
        #expect(best.score >= greedy.score / pow(3.0, penalty) - 1e-6)
    }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct GenerationGraphNameTests {
    @Test(arguments: [LLMKind.opt, .t5, .llama])
    func generationGraphsUseTheTrainingGraphsParameters(_ llm: LLMKind) throws {
        let c = BLIP2Config.test(llm: llm)
        let train = try BLIP2Model.build(config: c, stage: .two, mode: .eval)
        let known = Dictionary(uniqueKeysWithValues: train.parameters.map { ($0.name, train.type(of: $0.value)) })
        let graphs = try GenerationGraphs.build(config: c, rows: 2, promptLength: 3, maxNewTokens: 2)
        for g in [graphs.prefill, graphs.decode] {
            for p in g.parameters { #expect(known[p.name] == g.type(of: p.value), "\(g.name): \(p.name)") }
        }
    }
}

@Suite struct PaddedPromptGenerationTests {
    /// A padded batch of prompts of different lengths (left-padded for decoder-only models, right-padded T5
    /// encoder prefixes) generates what each prompt generates alone.
    @Test(arguments: [LLMKind.opt, .llama, .t5])
    func paddedBatchEqualsRowsAlone(_ llm: LLMKind) throws {
        let c = BLIP2Config.test(llm: llm)
        let batch = try GenerationGraphs.build(config: c, rows: 2, promptLength: 3, maxNewTokens: 3, paddedPrompts: true)
        var params = batch.prefill.initialParameters(seed: 11)
        params.merge(batch.decode.initialParameters(seed: 11)) { a, _ in a }
        let p = params
        let run: Generator.Runner = { g, inputs in try Interpreter().run(g, inputs: inputs, parameters: p) }
        let pixels = GenerationTests.pixels(c, rows: 2)
        let prompts = llm == .t5 ? [[7, c.llm.eosTokenId], [9, 7, 12]] : [[c.llm.bosTokenId], [c.llm.bosTokenId, 7, 12]]
        let settings = GenerationSettings(maxNewTokens: 3)
        let together = try Generator(graphs: batch, run: run).greedy(pixels: pixels, prompt: prompts, settings: settings)
        let n = pixels.count / 2
        for (r, prompt) in prompts.enumerated() {
            let alone = try GenerationGraphs.build(config: c, rows: 1, promptLength: prompt.count, maxNewTokens: 3)
            let image = Tensor(.f32, [1] + Array(pixels.shape.dropFirst()), Array(pixels.scalars[(r * n)..<((r + 1) * n)]))
            let single = try Generator(graphs: alone, run: run).greedy(pixels: image, prompt: [prompt], settings: settings)[0]
            #expect(together[r].tokens == single.tokens)
            #expect(abs(together[r].score - single.score) < 1e-4)
        }
    }
}
