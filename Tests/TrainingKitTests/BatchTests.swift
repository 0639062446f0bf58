import Testing
@testable import TrainingKit

@Suite struct BatchTests {
    /// Captions of all kinds × colours × positions, each twice (identical captions of different images).
    static let captions: [String] = {
        var out: [String] = []
        for kind in ["circle", "square", "triangle"] {
            for colour in ["red", "blue"] {
                for place in ["top left", "bottom right", "center"] { out += Array(repeating: "a \(colour) \(kind) at the \(place)", count: 2) }
            }
        }
        return out + ["an odd one out"]
    }()

    func wordsApart(_ a: String, _ b: String) -> Int {
        let (x, y) = (WordTokenizer.split(a), WordTokenizer.split(b))
        return x.count == y.count ? zip(x, y).filter { $0 != $1 }.count : Int.max
    }

    @Test func groupsAreOneWordApartDistinctAndDeterministic() {
        let c = Self.captions
        let batches = NeighbourBatches(captions: c, batch: 12, neighbours: 3, seed: 7)
        let again = NeighbourBatches(captions: c, batch: 12, neighbours: 3, seed: 7)
        var anchorsSeen = Set<Int>()
        let perEpoch = c.count / 3
        for step in 0..<perEpoch {
            let idx = batches.indices(step: step)
            #expect(idx == again.indices(step: step), "step \(step) is not reproducible")
            #expect(idx.count == 12)
            for g in stride(from: 0, to: 12, by: 4) {
                let anchor = idx[g], members = idx[g..<(g + 4)].map { c[$0] }
                anchorsSeen.insert(anchor)
                #expect(Set(members).count == 4, "identical captions in one group: \(members)")
                if c[anchor] != "an odd one out" {
                    for m in members.dropFirst() { #expect(wordsApart(c[anchor], m) == 1, "'\(m)' is not one word from '\(c[anchor])'") }
                }
            }
        }
        // Anchors walk an epoch of the data, like plain batches.
        #expect(anchorsSeen.count == perEpoch * 3)
        #expect(NeighbourBatches(captions: c, batch: 12, neighbours: 3, seed: 8).indices(step: 0) != batches.indices(step: 0))
    }
}
