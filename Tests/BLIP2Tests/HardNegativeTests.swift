#if canImport(Glibc)
import Glibc
#endif
import BLIP2
import GraphIR
import Testing

@Suite struct HardNegativeTests {
    /// A 4×4 similarity with a dominant diagonal (the positives) and distinct off-diagonal values.
    static let similarity: [Double] = [
        9.0, 1.0, 0.0, 2.0,
        0.5, 8.0, 1.5, -1.0,
        0.0, 0.0, 7.0, 1.0,
        3.0, 1.0, 2.0, 10.0,
    ]

    static func draws(seeds: Range<Int>) throws -> (images: [[Int]], texts: [[Int]]) {
        let g = Graph()
        let sim = try g.input("sim", [4, 4])
        let seed = try g.input("seed", [], .i32)
        let (images, texts) = try Stage1.hardNegatives(g, similarity: sim, seed: seed)
        g.output("images", images)
        g.output("texts", texts)
        var out: (images: [[Int]], texts: [[Int]]) = ([], [])
        let s = Tensor(.f32, [4, 4], similarity)
        for k in seeds {
            let r = try Interpreter().run(g, inputs: ["sim": s, "seed": Tensor(scalar: Double(k), dtype: .i32)], parameters: [:])
            out.images.append(r["images"]!.ints)
            out.texts.append(r["texts"]!.ints)
        }
        return out
    }

    @Test func neverPicksThePositiveAndFollowsTheSimilaritySoftmax() throws {
        let n = 1500
        let d = try Self.draws(seeds: 0..<n)
        for k in 0..<n {
            for b in 0..<4 {
                #expect(d.images[k][b] != b)
                #expect(d.texts[k][b] != b)
            }
        }
        // Text b draws an image from softmax over column b of sim_i2t (= row b of sim_t2i), positive excluded;
        // image b draws a text from row b of sim_i2t.
        func expected(_ row: [Double], excluding b: Int) -> [Double] {
            let e = row.enumerated().map { $0.offset == b ? 0 : exp($0.element) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        for b in 0..<4 {
            let i2tRow = Array(Self.similarity[(b * 4)..<(b * 4 + 4)])
            let t2iRow = (0..<4).map { Self.similarity[$0 * 4 + b] }
            for (row, picks) in [(i2tRow, d.texts.map { $0[b] }), (t2iRow, d.images.map { $0[b] })] {
                let p = expected(row, excluding: b)
                for j in 0..<4 {
                    let freq = Double(picks.filter { $0 == j }.count) / Double(n)
                    // 4.5 binomial standard deviations (fixed seeds, so the test is deterministic).
                    let sd = (p[j] * (1 - p[j]) / Double(n)).squareRoot()
                    #expect(abs(freq - p[j]) <= 4.5 * sd + 1e-9, "row \(b) index \(j): \(freq) vs \(p[j])")
                }
            }
        }
    }

    @Test func theStage1GraphPairsEveryRowWithANegative() throws {
        let c = BLIP2Config.test()
        let g = try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: 3, textLength: 5))
        let out = try runInterpreter(g, c, stage: .one, seed: 5)
        for name in ["negative_images", "negative_texts"] {
            let picks = try #require(out[name]).ints
            #expect(picks.count == 3)
            for (b, j) in picks.enumerated() { #expect(j != b && j >= 0 && j < 3) }
        }
    }
}
