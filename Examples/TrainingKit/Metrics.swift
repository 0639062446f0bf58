/// Retrieval and captioning metrics on a held-out split.

/// Recall@K from a similarity matrix `sim[i][j]` between images i and texts j, where the pair (i, i) is the
/// ground truth. `strict`: only the paired item counts. Lenient: any gallery item whose caption is identical
/// to the paired caption counts too (the procedural data repeats captions, so strict recall under-states skill).
public struct RetrievalScores: Equatable {
    public var i2t: [Int: Double]
    public var t2i: [Int: Double]
}

public func retrievalRecall(sim: [[Float]], captions: [String], ks: [Int] = [1, 5], strict: Bool) -> RetrievalScores {
    let n = sim.count
    precondition(n == captions.count && sim.allSatisfy { $0.count == n }, "similarity must be square over the paired items")
    func hits(_ ranked: [Int], _ i: Int, _ k: Int) -> Bool {
        ranked.prefix(k).contains { strict ? $0 == i : captions[$0] == captions[i] }
    }
    var i2t: [Int: Double] = [:], t2i: [Int: Double] = [:]
    for k in ks {
        var a = 0, b = 0
        for i in 0..<n {
            // Ties are broken by index so the result is deterministic.
            let rowRank = (0..<n).sorted { sim[i][$0] != sim[i][$1] ? sim[i][$0] > sim[i][$1] : $0 < $1 }
            if hits(rowRank, i, k) { a += 1 }
            let colRank = (0..<n).sorted { sim[$0][i] != sim[$1][i] ? sim[$0][i] > sim[$1][i] : $0 < $1 }
            if hits(colRank, i, k) { b += 1 }
        }
        i2t[k] = Double(a) / Double(max(n, 1))
        t2i[k] = Double(b) / Double(max(n, 1))
    }
    return RetrievalScores(i2t: i2t, t2i: t2i)
}

/// Corpus BLEU-4 (Papineni et al.) with one reference per hypothesis, uniform weights, brevity penalty,
/// on whitespace tokens. Returns 0 when any n-gram order has no match (no smoothing).
public func corpusBLEU4(hypotheses: [String], references: [String]) -> Double {
    precondition(hypotheses.count == references.count)
    var matches = [Double](repeating: 0, count: 4), totals = [Double](repeating: 0, count: 4)
    var hypLen = 0.0, refLen = 0.0
    for (h, r) in zip(hypotheses, references) {
        let ht = h.split(separator: " ").map(String.init), rt = r.split(separator: " ").map(String.init)
        hypLen += Double(ht.count)
        refLen += Double(rt.count)
        for n in 1...4 {
            var refCounts: [[String]: Int] = [:]
            if rt.count >= n { for i in 0...(rt.count - n) { refCounts[Array(rt[i..<(i + n)]), default: 0] += 1 } }
            guard ht.count >= n else { continue }
            for i in 0...(ht.count - n) {
                let g = Array(ht[i..<(i + n)])
                totals[n - 1] += 1
                if let c = refCounts[g], c > 0 {
                    matches[n - 1] += 1
                    refCounts[g] = c - 1
                }
            }
        }
    }
    guard hypLen > 0, matches.allSatisfy({ $0 > 0 }) else { return 0 }
    let logP = (0..<4).map { Foundation_log(matches[$0] / totals[$0]) }.reduce(0, +) / 4
    let bp = hypLen >= refLen ? 1 : Foundation_exp(1 - refLen / hypLen)
    return bp * Foundation_exp(logP)
}

/// Fraction of generated captions equal to their reference (after trimming).
public func exactMatchRate(hypotheses: [String], references: [String]) -> Double {
    guard !hypotheses.isEmpty else { return 0 }
    let same = zip(hypotheses, references).filter { $0.trimmingCharacters(in: .whitespaces) == $1.trimmingCharacters(in: .whitespaces) }.count
    return Double(same) / Double(hypotheses.count)
}

/// Attribute accuracy for captions over a closed vocabulary (e.g. colour words): the fraction of items whose
/// reference names an attribute word from `vocabulary` where the hypothesis names the same first such word.
public func attributeAccuracy(hypotheses: [String], references: [String], vocabulary: [String]) -> Double? {
    func first(_ s: String) -> String? {
        let words = s.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
        // Multi-word entries (e.g. "top left") are matched on the joined text.
        let joined = " " + words.joined(separator: " ") + " "
        let hits = vocabulary.compactMap { v -> (String, String.Index)? in
            joined.range(of: " \(v) ").map { (v, $0.lowerBound) }
        }
        // Prefer the earliest occurrence, then the longest word at that place ("top left" over "top").
        return hits.min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.count > $1.0.count }?.0
    }
    var n = 0, right = 0
    for (h, r) in zip(hypotheses, references) {
        guard let want = first(r) else { continue }
        n += 1
        if first(h) == want { right += 1 }
    }
    return n == 0 ? nil : Double(right) / Double(n)
}

import Foundation
@inline(__always) func Foundation_log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func Foundation_exp(_ x: Double) -> Double { Foundation.exp(x) }
