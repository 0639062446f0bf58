import Testing
import Foundation
@testable import TrainingKit

@Suite struct MetricsTests {
    @Test func recallStrictAndLenient() {
        // Image 0 ranks text 1 first; texts 1 and 0 share a caption, so lenient R@1 counts it.
        let sim: [[Float]] = [[0.2, 0.9, 0.1], [0.1, 0.8, 0.3], [0.0, 0.1, 0.7]]
        let caps = ["a red circle", "a red circle", "a blue square"]
        let strict = retrievalRecall(sim: sim, captions: caps, ks: [1, 2], strict: true)
        #expect(strict.i2t[1] == 2.0 / 3)    // rows 1 and 2 rank their own text first
        #expect(strict.i2t[2] == 1.0)
        // Text 0's column [0.2, 0.1, 0.0] ranks image 0 first; text 1's column ranks image 0 (0.9) before image 1.
        #expect(strict.t2i[1] == 2.0 / 3)
        let lenient = retrievalRecall(sim: sim, captions: caps, ks: [1], strict: false)
        #expect(lenient.i2t[1] == 1.0)
        #expect(lenient.t2i[1] == 1.0)
    }

    @Test func bleuMatchesHandComputed() {
        #expect(corpusBLEU4(hypotheses: ["a b c d"], references: ["a b c d"]) == 1.0)
        #expect(corpusBLEU4(hypotheses: ["a b c"], references: ["a b c d"]) == 0)   // no 4-gram
        // 5 tokens, 1-grams 4/5, 2-grams 3/4, 3-grams 2/3, 4-grams 1/2; same length, so no brevity penalty.
        let b = corpusBLEU4(hypotheses: ["a b c d x"], references: ["a b c d e"])
        #expect(abs(b - pow(0.8 * 0.75 * (2.0 / 3) * 0.5, 0.25)) < 1e-12)
        // Shorter hypothesis: brevity penalty exp(1 - 6/5).
        let c = corpusBLEU4(hypotheses: ["a b c d e"], references: ["a b c d e f"])
        #expect(abs(c - exp(1 - 6.0 / 5)) < 1e-12)
    }

    @Test func attributesAndExactMatch() {
        let refs = ["a large red circle at the top left", "a small blue square left of a small red cross"]
        let hyps = ["a large red square at the top", "a small green square left of a small red cross"]
        #expect(attributeAccuracy(hypotheses: hyps, references: refs, vocabulary: ["red", "green", "blue"]) == 0.5)
        // "top" is not "top left" (longest match wins); the second pair agrees on "left" (of "left of").
        #expect(attributeAccuracy(hypotheses: hyps, references: refs, vocabulary: ["top left", "top", "left"]) == 0.5)
        #expect(exactMatchRate(hypotheses: hyps + ["x"], references: refs + ["x"]) == 1.0 / 3)
    }

    @Test func svgPlotRendersSeries() {
        let recs: [[String: Double]] = (1...5).map { ["step": Double($0), "loss": 1 / Double($0), "eval.r1": Double($0) / 10] }
        let svg = SVGPlot.fromMetrics(title: "run", records: recs).render()
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("polyline"))
        #expect(svg.contains("eval.r1"))
    }
}
