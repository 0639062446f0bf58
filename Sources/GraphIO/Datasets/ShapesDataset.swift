/// The built-in procedural image-caption set: coloured shapes on a dark noisy background, with captions
/// that name what is drawn in several paraphrases. Nothing is read from disk; sample `i` of a split is a
/// pure function of (seed, split, i, image size), so every run renders the same pixels and captions.
///
/// Scenes: one shape at one of 9 positions (40 %); two different shapes side by side or one above the other
/// (40 %); two to four identical shapes (20 %). Shapes vary in kind (6), colour (8), size (2), position
/// (3×3 grid) with small jitter. The split is decided by a stable hash of the scene's content (not its
/// jitter): 1 in 8 scenes is held out, so no held-out scene appears in training under any phrasing.
public struct ShapesDataset: ImageCaptionDataset {
    public enum Split: String, Sendable, CaseIterable { case train, heldOut }

    public static let kinds = ["circle", "square", "triangle", "cross", "diamond", "ring"]
    public static let kindPlurals = ["circles", "squares", "triangles", "crosses", "diamonds", "rings"]
    public static let colourNames = ["red", "green", "blue", "yellow", "purple", "orange", "white", "pink"]
    static let colourRGB: [(Double, Double, Double)] = [(230, 35, 30), (40, 185, 45), (45, 75, 240), (240, 220, 30),
                                                        (150, 45, 205), (255, 140, 0), (240, 240, 240), (255, 125, 190)]
    public static let sizeNames = ["small", "large"]
    public static let positionNames = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
    static let numberNames = ["zero", "one", "two", "three", "four"]

    /// One drawn shape. `cell` is row*3+column of the 3×3 grid; `dx`, `dy` ∈ −2...2 and `grow` ∈ −1...1 jitter.
    public struct Shape: Hashable, Sendable {
        public var kind: Int, colour: Int, large: Bool, cell: Int
        public var dx: Int, dy: Int, grow: Int
        var description: String { "\(ShapesDataset.sizeNames[large ? 1 : 0]) \(ShapesDataset.colourNames[colour]) \(ShapesDataset.kinds[kind])" }
        var content: [Int] { [kind, colour, large ? 1 : 0] }
    }

    public enum Layout: Hashable, Sendable {
        case single
        /// Two shapes in one row (`horizontal`: shapes[0] left of shapes[1]) or column (shapes[0] above).
        case pair(horizontal: Bool)
        case group
    }

    public struct Scene: Hashable, Sendable {
        public var layout: Layout
        public var shapes: [Shape]

        /// What the captions say (no jitter): decides the split.
        public var contentKey: String {
            switch layout {
            case .single: return "single \(shapes[0].content) \(shapes[0].cell)"
            case .pair(let h): return "pair \(h) \(shapes[0].content) \(shapes[1].content)"
            case .group: return "group \(shapes.count) \(shapes[0].content)"
            }
        }
    }

    public let imageSize: Int
    public let seed: UInt64
    /// Captions say "left of", "at the top right": no flips, mild crops only.
    public var spatialCaptions: Bool { true }
    public let split: Split
    public let count: Int

    /// `count` samples of `split`, rendered at `imageSize`×`imageSize`, from `seed`.
    public init(split: Split = .train, count: Int = 20_000, imageSize: Int = 64, seed: UInt64 = 0) {
        precondition(imageSize >= 8 && count >= 0)
        self.split = split
        self.count = count
        self.imageSize = imageSize
        self.seed = seed
    }

    static func splitOf(_ scene: Scene) -> Split {
        // FNV's low bits depend only on the bytes' low bits: mix them before taking the residue.
        var g = SeededGenerator(seed: stableHash(Array(scene.contentKey.utf8)))
        return g.next() % 8 == 0 ? .heldOut : .train
    }

    /// Sample `index`'s generator: independent streams per split and index.
    func generator(_ index: Int) -> SeededGenerator {
        SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ (split == .train ? 0x7472_6169_6e : 0x6865_6c64)).fork(UInt64(index))
    }

    /// The scene of sample `index` (drawn until it falls in this split).
    public func scene(at index: Int) -> Scene {
        var g = generator(index)
        while true {
            let s = ShapesDataset.drawScene(&g)
            if ShapesDataset.splitOf(s) == split { return s }
        }
    }

    static func drawShape(_ g: inout SeededGenerator, cell: Int) -> Shape {
        Shape(kind: g.below(kinds.count), colour: g.below(colourNames.count), large: g.below(2) == 1, cell: cell,
              dx: g.below(5) - 2, dy: g.below(5) - 2, grow: g.below(3) - 1)
    }

    static func drawScene(_ g: inout SeededGenerator) -> Scene {
        let u = g.unit()
        if u < 0.4 { return Scene(layout: .single, shapes: [drawShape(&g, cell: g.below(9))]) }
        if u < 0.8 {
            let horizontal = g.below(2) == 0
            let line = g.below(3)
            let a = g.below(3)
            var b = g.below(2)
            if b >= a { b += 1 }
            let (first, second) = (min(a, b), max(a, b))
            let cells = horizontal ? (line * 3 + first, line * 3 + second) : (first * 3 + line, second * 3 + line)
            let s0 = drawShape(&g, cell: cells.0)
            var s1 = drawShape(&g, cell: cells.1)
            while s1.content == s0.content { s1 = drawShape(&g, cell: cells.1) }
            return Scene(layout: .pair(horizontal: horizontal), shapes: [s0, s1])
        }
        let n = 2 + g.below(3)
        var cells = Array(0..<9)
        for i in 0..<n {
            let j = i + g.below(9 - i)
            cells.swapAt(i, j)
        }
        let first = drawShape(&g, cell: cells[0])
        var shapes = [first]
        for i in 1..<n {
            var s = drawShape(&g, cell: cells[i])
            s.kind = first.kind
            s.colour = first.colour
            s.large = first.large
            shapes.append(s)
        }
        return Scene(layout: .group, shapes: shapes)
    }

    /// Every distinct scene content once (positions only where captions name them; no jitter): the candidate
    /// set for retrieval-style evaluation and the denominator of chance levels.
    public static func allScenes() -> [Scene] {
        var shapes: [Shape] = []
        for k in kinds.indices {
            for c in colourNames.indices {
                for large in [false, true] { shapes.append(Shape(kind: k, colour: c, large: large, cell: 4, dx: 0, dy: 0, grow: 0)) }
            }
        }
        var out: [Scene] = []
        for s in shapes {
            for cell in 0..<9 {
                var t = s
                t.cell = cell
                out.append(Scene(layout: .single, shapes: [t]))
            }
        }
        for horizontal in [true, false] {
            for a in shapes {
                for b in shapes where a.content != b.content {
                    var (x, y) = (a, b)
                    (x.cell, y.cell) = horizontal ? (3, 5) : (1, 7)
                    out.append(Scene(layout: .pair(horizontal: horizontal), shapes: [x, y]))
                }
            }
        }
        for n in 2...4 {
            for s in shapes {
                out.append(Scene(layout: .group, shapes: (0..<n).map { i in var t = s; t.cell = [0, 2, 6, 8][i]; return t }))
            }
        }
        return out
    }

    /// Every paraphrase of a scene's caption, in a fixed order.
    public static func captions(for scene: Scene) -> [String] {
        switch scene.layout {
        case .single:
            let s = scene.shapes[0]
            let d = s.description
            let p = positionNames[s.cell]
            let at = p == "center" ? "in the center" : "at the \(p)"
            let inPlace = p == "center" ? "in the middle" : (p.contains(" ") ? "in the \(p) corner" : "at the \(p) edge")
            return ["a \(d) \(at)", "a \(d) \(inPlace)", "there is a \(d) \(at)", "one \(d) \(at) of the picture",
                    "\(at), a \(d)"]
        case .pair(let horizontal):
            let a = scene.shapes[0].description, b = scene.shapes[1].description
            if horizontal {
                return ["a \(a) left of a \(b)", "a \(b) right of a \(a)", "a \(a) to the left of a \(b)",
                        "a \(b) to the right of a \(a)", "a \(a) on the left and a \(b) on the right"]
            }
            return ["a \(a) above a \(b)", "a \(b) below a \(a)", "a \(a) on top of a \(b)",
                    "a \(b) underneath a \(a)", "a \(a) at the top and a \(b) at the bottom"]
        case .group:
            let s = scene.shapes[0]
            let n = numberNames[scene.shapes.count]
            let many = "\(sizeNames[s.large ? 1 : 0]) \(colourNames[s.colour]) \(kindPlurals[s.kind])"
            return ["\(n) \(many)", "there are \(n) \(many)", "a group of \(n) \(many)", "\(n) \(many) on a dark background"]
        }
    }

    /// The caption of sample `index`: one of its scene's paraphrases, chosen from the seed.
    public func caption(at index: Int) -> String {
        let scene = scene(at: index)
        let all = ShapesDataset.captions(for: scene)
        var g = generator(index).fork(0xCA97)
        return all[g.below(all.count)]
    }

    /// Renders sample `index` (pure function of seed, split, index and size).
    public func sample(at index: Int) -> ImageCaptionSample {
        var g = generator(index).fork(0x1A6E)
        let image = ShapesDataset.render(scene(at: index), size: imageSize, rng: &g)
        return ImageCaptionSample(image: image, caption: caption(at: index), source: "shapes[\(split.rawValue) \(index)]")
    }

    /// Draws a scene: background grey 24–44 with ±6 noise, each shape antialiased by 4×4 supersampling,
    /// coloured with a per-shape tint (±12) and ±4 per-pixel noise. Only +, −, ×, ÷ (no libm), so the
    /// pixels are identical on every platform.
    public static func render(_ scene: Scene, size: Int, rng g: inout SeededGenerator) -> RGBImage {
        let S = Double(size)
        let base = 24 + Double(g.below(21))
        var px = [Double](repeating: 0, count: size * size * 3)
        for i in 0..<(size * size) {
            let n = Double(g.below(13)) - 6
            for c in 0..<3 { px[3 * i + c] = base + n }
        }
        for s in scene.shapes {
            let (r, c) = (s.cell / 3, s.cell % 3)
            let cx = (Double(c) + 0.5) / 3 * S + Double(s.dx) * 0.015 * S
            let cy = (Double(r) + 0.5) / 3 * S + Double(s.dy) * 0.015 * S
            let h = (s.large ? 0.13 : 0.08) * S * (1 + 0.08 * Double(s.grow))
            let tint = (Double(g.below(25)) - 12, Double(g.below(25)) - 12, Double(g.below(25)) - 12)
            let rgb = colourRGB[s.colour]
            let colour = [rgb.0 + tint.0, rgb.1 + tint.1, rgb.2 + tint.2]
            let x0 = max(0, Int(cx - h - 1)), x1 = min(size - 1, Int(cx + h + 1))
            let y0 = max(0, Int(cy - h - 1)), y1 = min(size - 1, Int(cy + h + 1))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 {
                    var hits = 0
                    for sy in 0..<4 {
                        for sx in 0..<4 {
                            let X = Double(x) + (Double(sx) + 0.5) / 4 - cx
                            let Y = Double(y) + (Double(sy) + 0.5) / 4 - cy
                            if inside(kind: s.kind, X, Y, h) { hits += 1 }
                        }
                    }
                    guard hits > 0 else { continue }
                    let cover = Double(hits) / 16
                    let noise = Double(g.below(9)) - 4
                    let i = 3 * (y * size + x)
                    for ch in 0..<3 { px[i + ch] = px[i + ch] * (1 - cover) + (colour[ch] + noise) * cover }
                }
            }
        }
        let bytes = px.map { UInt8(max(0, min(255, ($0 + 0.5).rounded(.down)))) }
        return RGBImage(width: size, height: size, pixels: bytes)
    }

    static func inside(kind: Int, _ X: Double, _ Y: Double, _ h: Double) -> Bool {
        let ax = X < 0 ? -X : X, ay = Y < 0 ? -Y : Y
        switch kind {
        case 0: return X * X + Y * Y <= h * h
        case 1: return ax <= 0.85 * h && ay <= 0.85 * h
        case 2: return Y >= -h && Y <= 0.8 * h && ax <= (Y + h) / 1.8
        case 3:
            let t = 0.33 * h
            return (ax <= h && ay <= t) || (ax <= t && ay <= h)
        case 4: return ax + ay <= 1.1 * h
        default:
            let d = X * X + Y * Y
            return d <= h * h && d >= 0.3 * h * h
        }
    }
}
