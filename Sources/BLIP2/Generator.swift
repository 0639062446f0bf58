#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR

/// Decoding settings (HF `generate` semantics where they apply).
public struct GenerationSettings: Sendable {
    public var maxNewTokens: Int
    /// 1 = greedy.
    public var numBeams: Int
    /// Beam score = sum of log-probabilities / (generated length ^ lengthPenalty); the length counts the
    /// generated tokens including the stop token (HF ≥ 4.40 counts from the end of the prompt too).
    public var lengthPenalty: Double
    /// Tokens that end a sequence (OPT in BLIP-2: "\n" = 50118).
    public var stopTokens: Set<Int>
    /// Stop tokens are suppressed until this many tokens exist.
    public var minNewTokens: Int

    public init(maxNewTokens: Int, numBeams: Int = 1, lengthPenalty: Double = 1, stopTokens: Set<Int> = [], minNewTokens: Int = 0) {
        self.maxNewTokens = maxNewTokens
        self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty
        self.stopTokens = stopTokens
        self.minNewTokens = minNewTokens
    }
}

/// A generated sequence and its score (greedy: the sum of log-probabilities; beam: length-normalised).
public struct GeneratedSequence: Sendable, Equatable {
    public var tokens: [Int]
    public var score: Double
}

/// Runs greedy or beam search over `GenerationGraphs` through a `(Graph, inputs) -> outputs` closure, so the same
/// driver runs on the reference interpreter (tests) and on the executor. The closure binds the parameters.
public struct Generator {
    public typealias Runner = (Graph, [String: Tensor]) throws -> [String: Tensor]

    public var graphs: GenerationGraphs
    public var run: Runner

    public init(graphs: GenerationGraphs, run: @escaping Runner) {
        self.graphs = graphs
        self.run = run
    }

    /// Greedy decoding for every row of `pixels`/`prompt`: `rows` prompts, of equal length unless the graphs
    /// were built with `paddedPrompts` (then any lengths up to `promptLength`, padded here: on the left for
    /// decoder-only models, on the right for T5's encoder).
    public func greedy(pixels: Tensor, prompt: [[Int]], settings: GenerationSettings) throws -> [GeneratedSequence] {
        var state = try start(pixels: pixels, prompt: prompt)
        var out = (0..<graphs.rows).map { _ in GeneratedSequence(tokens: [], score: 0) }
        var done = [Bool](repeating: false, count: graphs.rows)
        for step in 0..<settings.maxNewTokens {
            for r in 0..<graphs.rows where !done[r] {
                let lp = logProbabilities(state.logits, row: r, step: step, settings: settings)
                let (tok, score) = lp.enumerated().max { $0.element < $1.element }.map { ($0.offset, $0.element) }!
                out[r].tokens.append(tok)
                out[r].score += score
                if settings.stopTokens.contains(tok) { done[r] = true }
            }
            if done.allSatisfy({ $0 }) || step == settings.maxNewTokens - 1 { break }
            let next = out.enumerated().map { done[$0.offset] ? graphs.config.llm.padTokenId : $0.element.tokens.last! }
            state = try advance(state, tokens: next)
        }
        return out
    }

    /// Beam search for one prompt; `graphs.rows` must equal `settings.numBeams`. Returns the best hypothesis.
    public func beamSearch(pixels: Tensor, prompt: [Int], settings: GenerationSettings) throws -> GeneratedSequence {
        let k = settings.numBeams
        guard k == graphs.rows else {
            throw GraphError(.evaluate, "beam search with \(k) beams needs generation graphs built for \(k) rows, got \(graphs.rows)")
        }
        let pixelRows = try repeatRows(pixels, k)
        var state = try start(pixels: pixelRows, prompt: [[Int]](repeating: prompt, count: k))
        // Every beam starts identical; only beam 0 may expand at the first step (as HF's -1e9 initial scores).
        var beams: [(tokens: [Int], logp: Double)] = [([], 0)] + [([Int], Double)](repeating: ([], -.infinity), count: k - 1)
        var finished: [GeneratedSequence] = []
        func normalised(_ logp: Double, _ length: Int) -> Double { logp / pow(Double(max(length, 1)), settings.lengthPenalty) }
        for step in 0..<settings.maxNewTokens {
            var candidates: [(beam: Int, token: Int, logp: Double)] = []
            for (b, beam) in beams.enumerated() where beam.logp > -.infinity {
                let lp = logProbabilities(state.logits, row: b, step: step, settings: settings)
                for (tok, v) in lp.enumerated() where v > -.infinity { candidates.append((b, tok, beam.logp + v)) }
            }
            candidates.sort { $0.logp > $1.logp }
            var next: [(tokens: [Int], logp: Double)] = []
            var origin: [Int] = []
            for (rank, c) in candidates.prefix(2 * k).enumerated() {
                let tokens = beams[c.beam].tokens + [c.token]
                if settings.stopTokens.contains(c.token) {
                    if rank < k { finished.append(GeneratedSequence(tokens: tokens, score: normalised(c.logp, tokens.count))) }
                } else if next.count < k {
                    next.append((tokens, c.logp))
                    origin.append(c.beam)
                }
                if next.count == k { break }
            }
            finished.sort { $0.score > $1.score }
            if finished.count > k { finished.removeLast(finished.count - k) }
            let bestRunning = next.first.map { normalised($0.logp, $0.tokens.count) } ?? -.infinity
            if next.isEmpty || (finished.count == k && finished.last!.score >= bestRunning) || step == settings.maxNewTokens - 1 {
                for b in next { finished.append(GeneratedSequence(tokens: b.tokens, score: normalised(b.logp, b.tokens.count))) }
                break
            }
            while next.count < k { next.append(([], -.infinity)); origin.append(0) }
            beams = next
            state = try advance(reorder(state, origin), tokens: beams.map { $0.tokens.last ?? graphs.config.llm.padTokenId })
        }
        guard let best = finished.max(by: { $0.score < $1.score }) else {
            throw GraphError(.evaluate, "beam search produced no hypothesis")
        }
        return best
    }

    // MARK: state

    /// Caches, fixed tensors, the next position and the logits of the next token.
    struct State {
        var tensors: [String: Tensor]
        var position: Int
        var logits: Tensor
        /// Real prompt tokens per row (before left padding).
        var promptLengths: [Int]
    }

    func start(pixels: Tensor, prompt: [[Int]]) throws -> State {
        let length = graphs.promptLength
        guard prompt.count == graphs.rows,
              prompt.allSatisfy({ graphs.paddedPrompts ? ($0.count >= 1 && $0.count <= length) : $0.count == length }) else {
            throw GraphError(.evaluate, "generation: need \(graphs.rows) prompts of \(graphs.paddedPrompts ? "1 to " : "")\(length) tokens")
        }
        let pad = graphs.config.llm.padTokenId
        let onRight = graphs.config.llm.kind == .t5
        func padded(_ row: [Int], _ filler: Int, _ real: (Int) -> Int) -> [Int] {
            let fill = [Int](repeating: filler, count: length - row.count)
            return onRight ? row.map(real) + fill : fill + row.map(real)
        }
        let ids = prompt.flatMap { padded($0, pad) { $0 } }
        var feeds = ["pixel_values": pixels, "input_ids": Tensor(ints: ids, shape: [graphs.rows, length])]
        if graphs.paddedPrompts {
            feeds["attention_mask"] = Tensor(ints: prompt.flatMap { padded($0, 0) { _ in 1 } }, shape: [graphs.rows, length])
        }
        let out = try run(graphs.prefill, feeds)
        var tensors: [String: Tensor] = [:]
        for (name, t) in out where name.hasPrefix("past.") || name.hasPrefix("static.") { tensors[name] = t }
        let state = State(tensors: tensors, position: graphs.prefilled, logits: out["logits"] ?? Tensor(.f32, [1], [0]),
                          promptLengths: prompt.map(\.count))
        if out["logits"] != nil { return state }
        // Encoder-decoder: the first decoder token is the start token.
        return try advance(state, tokens: [Int](repeating: graphs.config.llm.decoderStartTokenId, count: graphs.rows))
    }

    func advance(_ state: State, tokens: [Int]) throws -> State {
        guard state.position < graphs.capacity else { throw GraphError(.evaluate, "generation: KV cache of \(graphs.capacity) is full") }
        var inputs = state.tensors
        inputs["input_ids"] = Tensor(ints: tokens, shape: [graphs.rows, 1])
        inputs["position"] = Tensor(scalar: Double(state.position), dtype: .i32)
        if graphs.paddedPrompts && graphs.config.llm.kind != .t5 {
            // Row b has Q + its prompt + the tokens generated so far; the padding slots stay hidden.
            let q = graphs.config.qformer.numQueryTokens, generated = state.position - graphs.prefilled
            inputs["position_ids"] = Tensor(ints: state.promptLengths.map { q + $0 + generated }, shape: [graphs.rows, 1])
            var bias: [Double] = []
            for n in state.promptLengths {
                let firstReal = q + graphs.promptLength - n
                bias += (0..<graphs.capacity).map { $0 >= q && $0 < firstReal ? -10_000 : 0 }
            }
            inputs["key_bias"] = Tensor(.f32, [graphs.rows, 1, 1, graphs.capacity], bias)
        }
        if graphs.config.llm.kind == .t5 {
            let l = graphs.config.llm
            let b = T5LM.relativeBuckets(queryPositions: [state.position], keyCount: graphs.capacity, bidirectional: false,
                                         buckets: l.relativeBuckets, maxDistance: l.relativeMaxDistance)
            inputs["relative_buckets"] = Tensor(ints: b, shape: [1, graphs.capacity])
        }
        let out = try run(graphs.decode, inputs)
        var next = state
        for (name, t) in out where name.hasPrefix("present.") { next.tensors["past." + name.dropFirst("present.".count)] = t }
        next.position += 1
        guard let logits = out["logits"] else { throw GraphError(.evaluate, "decode graph has no logits output") }
        next.logits = logits
        return next
    }

    /// Log-softmax of one row; stop tokens are masked before `minNewTokens`.
    func logProbabilities(_ logits: Tensor, row: Int, step: Int, settings: GenerationSettings) -> [Double] {
        let v = logits.shape.last ?? 1
        var x = Array(logits.scalars[(row * v)..<((row + 1) * v)])
        if step < settings.minNewTokens { for s in settings.stopTokens where s < v { x[s] = -.infinity } }
        let m = x.max() ?? 0
        let lse = m + log(x.map { exp($0 - m) }.reduce(0, +))
        return x.map { $0 - lse }
    }

    /// Gathers rows (axis 0) of every cache and fixed tensor (beam reordering).
    func reorder(_ state: State, _ origin: [Int]) throws -> State {
        var next = state
        for (name, t) in state.tensors { next.tensors[name] = gatherRows(t, origin) }
        next.promptLengths = origin.map { state.promptLengths[$0] }
        return next
    }
}

func gatherRows(_ t: Tensor, _ rows: [Int]) -> Tensor {
    let per = t.count / max(t.shape[0], 1)
    var out: [Double] = []
    out.reserveCapacity(per * rows.count)
    for r in rows { out.append(contentsOf: t.scalars[(r * per)..<((r + 1) * per)]) }
    return Tensor(t.dtype, [rows.count] + t.shape.dropFirst(), out)
}

func repeatRows(_ t: Tensor, _ k: Int) throws -> Tensor {
    guard t.shape.first == 1 else { throw GraphError(.evaluate, "beam search takes one image, got a batch of \(t.shape.first ?? 0)") }
    return gatherRows(t, [Int](repeating: 0, count: k))
}
