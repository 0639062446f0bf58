import Testing
@testable import graphc

/// `graphc dump blip2 --config paper --stats` reports the spec's per-component counts (Table 2 of the paper).
@Suite struct BLIP2StatsTests {
    @Test func paperStage2StatsShowTable2Counts() throws {
        let out = try dump(["blip2", "--config", "paper", "--stage", "2", "--stats"])
        #expect(out.contains("parameters by component"))
        let line = out.split(separator: "\n").first { $0.contains("Q-Former + queries (Table 2)") }
        #expect(line?.hasSuffix("105,162,240") == true)
        let withProjection = out.split(separator: "\n").first { $0.contains("+ language_projection") }
        #expect(withProjection?.hasSuffix("107,130,880") == true)
        #expect(out.contains("3,744,761,856"))
    }
}
