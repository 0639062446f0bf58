import Foundation

/// Caption quality on the shapes data: exact match, BLEU-4, and whether each attribute is named right.
public func captionReport(hypotheses: [String], references: [String]) -> [String: Double] {
    var r: [String: Double] = [
        "exact_match": exactMatchRate(hypotheses: hypotheses, references: references),
        "bleu4": corpusBLEU4(hypotheses: hypotheses, references: references),
    ]
    let vocabularies: [(String, [String])] = [
        ("colour", ["red", "green", "blue", "yellow", "purple", "orange", "white", "black", "pink", "brown", "gray", "grey", "cyan"]),
        ("size", ["small", "large", "big", "tiny", "medium", "huge"]),
        ("shape", ["circle", "square", "triangle", "cross", "star", "ring", "diamond", "rectangle", "ellipse", "hexagon", "heart"]),
    ]
    for (name, vocab) in vocabularies {
        if let a = attributeAccuracy(hypotheses: hypotheses, references: references, vocabulary: vocab) { r[name] = a }
    }
    // Positions are named only in single-shape captions ("… at the top left").
    let positional = zip(hypotheses, references).filter { $0.1.contains(" at the ") }
    let positions = ["top left", "top right", "bottom left", "bottom right", "top", "bottom", "left", "right", "center", "middle"]
    if let a = attributeAccuracy(hypotheses: positional.map(\.0), references: positional.map(\.1), vocabulary: positions) { r["position"] = a }
    return r
}

/// Formats a metrics dictionary as aligned `name value` lines (percentages for fractions).
public func formatMetrics(_ m: [String: Double]) -> String {
    m.keys.sorted().map { k in
        let v = m[k]!
        return "  \(k.padding(toLength: 18, withPad: " ", startingAt: 0)) \(v <= 1 && v >= 0 ? String(format: "%5.1f%%", 100 * v) : String(format: "%.4f", v))"
    }.joined(separator: "\n")
}

import GraphIO

extension TinyPipeline {
    /// A copy that evaluates every `evalEvery` steps during training.
    public func with(evalEvery: Int) -> TinyPipeline {
        var s = settings
        s.evalEvery = evalEvery
        return TinyPipeline(recipe: recipe, train: train, heldOut: heldOut, settings: s)
    }

    /// The first `count` held-out images with generated and reference captions, as `captions.png`.
    public func writeCaptionSheet(hypotheses: [String], count: Int) throws {
        let s = heldOut.imageSize, mean = ImagePreprocessor.clipMean, std = ImagePreprocessor.clipStd
        let images = (0..<count).map { i -> RGBImage in
            let x = heldOut.pixels[(i * heldOut.pixelsPerImage)..<((i + 1) * heldOut.pixelsPerImage)]
            var px = [UInt8](repeating: 0, count: s * s * 3)
            for c in 0..<3 {
                for p in 0..<(s * s) {
                    let v = (x[x.startIndex + c * s * s + p] * std[c] + mean[c]) * 255
                    px[p * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
            return RGBImage(width: s, height: s, pixels: px)
        }
        let captions = (0..<count).map { "\(hypotheses[$0]) / ref: \(heldOut.captions[$0])" }
        let sheet = ContactSheet.render(images: images, captions: captions, columns: 6, cellSize: 160, captionLines: 7)
        try PNGWriter.write(sheet, to: settings.outDir.appendingPathComponent("captions.png").path)
    }
}
