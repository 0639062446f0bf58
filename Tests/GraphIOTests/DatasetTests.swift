import Foundation
import Testing
import GraphIR
@testable import GraphIO

/// FNV-1a over the pixels and captions of the first `n` samples.
func checksum(_ d: ShapesDataset, _ n: Int) -> UInt64 {
    var bytes: [UInt8] = []
    for i in 0..<n {
        let s = d.sample(at: i)
        bytes += s.image.pixels
        bytes += Array(s.caption.utf8)
    }
    return stableHash(bytes)
}

@Suite struct ShapesDatasetTests {
    /// Golden value: changes only when the generator or renderer changes (update it deliberately, and say so).
    static let goldenChecksum: UInt64 = 18017046444436310735

    @Test func sameSeedSameImagesAndCaptionsEveryRun() {
        let d = ShapesDataset(split: .train, count: 1000, imageSize: 32, seed: 7)
        let sum = checksum(d, 24)
        #expect(sum == checksum(ShapesDataset(split: .train, count: 1000, imageSize: 32, seed: 7), 24))
        #expect(sum == Self.goldenChecksum, "checksum \(sum)")
        #expect(sum != checksum(ShapesDataset(split: .train, count: 1000, imageSize: 32, seed: 8), 24))
        #expect(sum != checksum(ShapesDataset(split: .heldOut, count: 1000, imageSize: 32, seed: 7), 24))
        // Random access: sample 17 alone equals sample 17 after the others.
        #expect(d.sample(at: 17).image == ShapesDataset(split: .train, count: 1000, imageSize: 32, seed: 7).sample(at: 17).image)
    }

    /// The numbers Docs/Data.md quotes (held-out counts cross-checked with a Python re-implementation of the hash).
    @Test func sceneSpaceSizes() {
        let scenes = ShapesDataset.allScenes()
        #expect(scenes.count == 864 + 18240 + 288)
        let held = scenes.filter { ShapesDataset.splitOf($0) == .heldOut }
        #expect(held.count == 96 + 2309 + 36)
        let captions = scenes.flatMap { ShapesDataset.captions(for: $0) }
        #expect(captions.count == 864 * 5 + 18240 * 5 + 288 * 4)
        #expect(Set(captions).count == captions.count)
    }

    @Test func splitsAreDisjointAndCaptionsVary() {
        let train = ShapesDataset(split: .train, count: 3000, imageSize: 16)
        let held = ShapesDataset(split: .heldOut, count: 400, imageSize: 16)
        let trainKeys = Set((0..<3000).map { train.scene(at: $0).contentKey })
        let heldKeys = Set((0..<400).map { held.scene(at: $0).contentKey })
        #expect(trainKeys.isDisjoint(with: heldKeys))
        let captions = (0..<3000).map { train.caption(at: $0) }
        #expect(Set(captions).count > 2000)
        var layouts = [String: Int]()
        for i in 0..<3000 {
            switch train.scene(at: i).layout {
            case .single: layouts["single", default: 0] += 1
            case .pair: layouts["pair", default: 0] += 1
            case .group: layouts["group", default: 0] += 1
            }
        }
        #expect(layouts["single"]! > 900 && layouts["pair"]! > 900 && layouts["group"]! > 400)
    }

    @Test func captionsNameWhatIsDrawn() {
        let d = ShapesDataset(split: .train, count: 200, imageSize: 48, seed: 3)
        for i in 0..<200 {
            let scene = d.scene(at: i)
            let caption = d.caption(at: i)
            #expect(ShapesDataset.captions(for: scene).contains(caption))
            for s in scene.shapes {
                #expect(caption.contains(ShapesDataset.colourNames[s.colour]) && caption.contains(ShapesDataset.kinds[s.kind]))
            }
            // The centre pixel of every shape has its colour's dominant channel (shapes do not overlap).
            let im = d.sample(at: i).image
            for s in scene.shapes where s.kind != 5 && s.kind != 3 {
                let (r, c) = (s.cell / 3, s.cell % 3)
                let x = Int((Double(c) + 0.5) / 3 * 48 + Double(s.dx) * 0.015 * 48)
                let y = Int((Double(r) + 0.5) / 3 * 48 + Double(s.dy) * 0.015 * 48)
                let p = (y * 48 + x) * 3
                #expect(Int(im.pixels[p]) + Int(im.pixels[p + 1]) + Int(im.pixels[p + 2]) > 150, "sample \(i) shape \(s)")
            }
        }
    }
}

@Suite struct CaptionFileTests {
    @Test func readsTheSharedShapesReferenceSet() throws {
        let val = try CaptionFileDataset.open(fixturePath("shapes_reference/val"))
        #expect(val.count == 3)
        #expect(try val.caption(at: 1) == "a large yellow cross at the top left")
        let s = try val.sample(at: 1)
        #expect(s.image.width == 16 && s.image.height == 16)
        // A large yellow cross at the top left: its centre pixel is yellow.
        let p = (Int(16.0 / 6) * 16 + Int(16.0 / 6)) * 3
        #expect(s.image.pixels[p] > 180 && s.image.pixels[p + 1] > 160 && s.image.pixels[p + 2] < 100)
        let train = try CaptionFileDataset.open(fixturePath("shapes_reference/train/captions.json"))
        #expect(train.count == 6)
        for i in 0..<6 { #expect(try train.sample(at: i).image.width == 16) }
    }

    @Test func jsonlWithMissingAndCorruptImages() throws {
        let dir = temporaryDirectory()
        try FileManager.default.copyItem(atPath: fixturePath("images/photo.png"), toPath: dir + "/good.png")
        writeBytes(Array(try readFile(fixturePath("images/photo.png")).prefix(100)), dir + "/cut.png")
        let lines = """
        {"image": "good.png", "caption": "a photo"}

        {"image": "missing.png", "caption": "not there"}
        {"image": "cut.png", "caption": "truncated"}
        {"image": "\(dir)/good.png", "caption": "absolute path"}
        """
        writeBytes(Array(lines.utf8), dir + "/data.jsonl")
        let d = try CaptionFileDataset.open(dir + "/data.jsonl")
        #expect(d.count == 4)
        #expect(try d.sample(at: 0).image.width == 61)
        expectIOError(["data.jsonl line 3", "missing.png"]) { _ = try d.sample(at: 1) }
        expectIOError(["data.jsonl line 4", "cut.png", "truncated"]) { _ = try d.sample(at: 2) }

        // The loader stops at the first bad sample by default…
        var options = DataLoader.Options(batchSize: 2)
        options.shuffle = false
        let failing = DataLoader(dataset: d, preprocessor: ImagePreprocessor(size: 8), options: options)
        let it = failing.epoch(0)
        expectIOError(["missing.png"]) { while try it.next() != nil {} }
        #expect(try it.next() == nil)
        // …or skips and counts, naming each file.
        options.onBadSample = .skipAndCount
        let skipping = DataLoader(dataset: d, preprocessor: ImagePreprocessor(size: 8), options: options)
        let batches = try collect(skipping.epoch(0))
        #expect(batches.map(\.indices) == [[0, 3]])
        #expect(skipping.skipped.count == 2)
        #expect(skipping.skipped[0].contains("missing.png") && skipping.skipped[1].contains("cut.png"))
    }

    @Test func malformedCaptionFilesNameTheEntry() throws {
        let dir = temporaryDirectory()
        let cases: [(String, String, [String])] = [
            ("a.jsonl", "{\"image\": \"x.png\", \"caption\": \"ok\"}\n{\"image\": \"y.png\"", ["a.jsonl line 2", "unexpected end"]),
            ("b.jsonl", "{\"image\": \"x.png\", \"caption\": \"\"}", ["b.jsonl line 1", "caption"]),
            ("c.jsonl", "[1, 2]", ["c.jsonl line 1", "image"]),
            ("d.json", "{\"images\": []}", ["d.json", "annotations"]),
            ("e.json", "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\"}], \"annotations\": [{\"image_id\": 2, \"caption\": \"x\"}]}",
             ["e.json", "annotations[0]", "image_id 2"]),
            ("f.json", "{\"images\": [{\"id\": 1}], \"annotations\": []}", ["f.json", "images[0]", "file_name"]),
            ("g.json", "{\"images\": [], \"annotations\": [], }", ["g.json", "byte 34"]),
        ]
        for (name, text, fragments) in cases {
            writeBytes(Array(text.utf8), dir + "/" + name)
            expectIOError(fragments) { _ = try CaptionFileDataset.open(dir + "/" + name) }
        }
        expectIOError(["no such file"]) { _ = try CaptionFileDataset.open(dir + "/nothing") }
    }
}

func collect(_ it: EpochIterator) throws -> [Batch] {
    var out: [Batch] = []
    while let b = try it.next() { out.append(b) }
    return out
}

@Suite struct DataLoaderTests {
    static let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "small", "large", "red", "circle", "left", "of"]

    @Test func batchesCoverEveryIndexOnceAndAreReproducible() throws {
        let data = ShapesDataset(split: .train, count: 23, imageSize: 24, seed: 1)
        var options = DataLoader.Options(batchSize: 5)
        options.seed = 9
        options.augment = true
        options.maxTokens = 12
        let tok = try BertTokenizer(vocab: Self.vocab)
        let loader = DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 16), tokenizer: tok, options: options)
        let a = try collect(loader.epoch(0))
        #expect(a.map(\.indices.count) == [5, 5, 5, 5, 3])
        #expect(a.flatMap(\.indices).sorted() == Array(0..<23))
        #expect(a.flatMap(\.indices) != Array(0..<23))
        #expect(a[0].pixelValues.shape == [5, 3, 16, 16])
        #expect(a[0].tokens!.ids.allSatisfy { $0.count == a[0].tokens!.sequenceLength && $0.count <= 12 })
        #expect(a[0].captions == a[0].indices.map { data.caption(at: $0) })
        let again = try collect(DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 16), tokenizer: tok, options: options).epoch(0))
        #expect(again.map(\.indices) == a.map(\.indices))
        #expect(again.map(\.pixelValues) == a.map(\.pixelValues))
        let epoch1 = try collect(loader.epoch(1))
        #expect(epoch1.map(\.indices) != a.map(\.indices))
        options.dropLast = true
        #expect(try collect(DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 16), options: options).epoch(0)).count == 4)
    }

    @Test func abandoningAnEpochStopsTheWorker() throws {
        let data = ShapesDataset(split: .train, count: 200, imageSize: 16)
        var options = DataLoader.Options(batchSize: 4)
        options.prefetch = 1
        let loader = DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 16), options: options)
        do {
            let it = loader.epoch(0)
            #expect(try it.next()?.indices.count == 4)
        }
        // A new epoch works while the old worker winds down.
        #expect(try loader.epoch(1).next()?.indices.count == 4)
    }

    @Test func contactSheetOfABatch() throws {
        let data = ShapesDataset(split: .heldOut, count: 6, imageSize: 32, seed: 2)
        var options = DataLoader.Options(batchSize: 6)
        options.shuffle = false
        let batch = try DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 32), options: options).epoch(0).next()!
        // GRAPHC_CONTACT_SHEET=/some/file.png keeps the sheet for a look.
        let path = ProcessInfo.processInfo.environment["GRAPHC_CONTACT_SHEET"] ?? (temporaryDirectory() + "/sheet.png")
        try ContactSheet.write(images: batch.images, captions: batch.captions, to: path, columns: 3, cellSize: 64)
        let sheet = try ImageDecoder.decode(path: path)
        #expect(sheet.width == 3 * 72 && sheet.height == 2 * (72 + 3 * 12))
        // Caption text is drawn in black under the first image.
        var black = 0
        for y in 72..<(72 + 36) {
            for x in 0..<72 where sheet.pixels[(y * sheet.width + x) * 3] == 0 { black += 1 }
        }
        #expect(black > 20)
        #expect(ContactSheet.wrap("a small red circle left of a large blue square", width: 12) ==
                ["a small red", "circle left", "of a large", "blue square"])
    }
}

@Suite struct ClipartImporterTests {
    static let svg = """
    <?xml version="1.0"?>
    <svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF><cc:Work rdf:about="">
    <dc:title>Violin (Colour) &amp; Bow</dc:title>
    <dc:description>a violin</dc:description>
    <dc:subject><rdf:Bag><rdf:li>music</rdf:li><rdf:li>violin</rdf:li><rdf:li>clip art</rdf:li><rdf:li>Instrument</rdf:li></rdf:Bag></dc:subject>
    <dc:creator><cc:Agent><dc:title>Some Artist</dc:title></cc:Agent></dc:creator>
    </cc:Work></rdf:RDF></metadata><rect width="1" height="1"/></svg>
    """

    @Test func importsATinySyntheticLibrary() throws {
        let root = temporaryDirectory()
        let fm = FileManager.default
        for d in ["png/recreation/music", "svg/recreation/music", "png/food/drinks", "svg/food/drinks", "png/misc"] {
            try fm.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
        let png = try PNGWriter.encode(RGBImage(width: 4, height: 4, fill: (10, 20, 30)))
        for p in ["png/recreation/music/violin_colour_ganson.png", "png/food/drinks/coffee_cup_01.png", "png/misc/thing_02.png"] {
            writeBytes(png, root + "/" + p)
        }
        writeBytes(Array(Self.svg.utf8), root + "/svg/recreation/music/violin_colour_ganson.svg")
        writeBytes(Array("<svg><metadata></metadata></svg>".utf8), root + "/svg/food/drinks/coffee_cup_01.svg")
        try fm.createSymbolicLink(atPath: root + "/png/misc/violin_link.png", withDestinationPath: "../recreation/music/violin_colour_ganson.png")
        let out = root + "/clipart.jsonl"
        let report = try ClipartImporter.importLibrary(root: root, to: out)
        #expect(report == ClipartImporter.Report(written: 3, withoutSVG: 1, withoutTitle: 1, duplicateLinks: 1))
        let d = try CaptionFileDataset.open(out)
        #expect(d.entries.map(\.caption)[2] == "clip art of violin (colour) & bow: music, instrument")
        #expect(d.entries.map(\.caption)[0] == "clip art of coffee cup: drinks, food")
        #expect(d.entries.map(\.caption)[1] == "clip art of thing: misc")
        #expect(try d.sample(at: 2).image == RGBImage(width: 4, height: 4, fill: (10, 20, 30)))
        expectIOError(["cannot list"]) { _ = try ClipartImporter.importLibrary(root: root + "/nope", to: out) }
    }
}

@Suite struct SpatialAugmentationTests {
    /// A flipped "left of" picture would contradict its caption: the procedural set is never flipped.
    @Test func proceduralSetIsNotFlipped() throws {
        let data = ShapesDataset(split: .train, count: 40, imageSize: 32, seed: 5)
        var options = DataLoader.Options(batchSize: 40)
        options.augment = true
        options.shuffle = false
        options.flipProbability = 1
        let batch = try DataLoader(dataset: data, preprocessor: ImagePreprocessor(size: 32), options: options).epoch(0).next()!
        // For every horizontal pair of clearly different colours, the first (left) shape's pixels are left of the second's.
        var checked = 0
        for (k, i) in batch.indices.enumerated() {
            let scene = data.scene(at: i)
            guard case .pair(horizontal: true) = scene.layout else { continue }
            let a = ShapesDataset.colourRGB[scene.shapes[0].colour], b = ShapesDataset.colourRGB[scene.shapes[1].colour]
            guard abs(a.0 - b.0) + abs(a.1 - b.1) + abs(a.2 - b.2) > 200 else { continue }
            let im = batch.images[k]
            func meanX(_ rgb: (Double, Double, Double)) -> Double? {
                var sum = 0, n = 0
                for y in 0..<32 {
                    for x in 0..<32 {
                        let p = (y * 32 + x) * 3
                        let d = abs(Double(im.pixels[p]) - rgb.0) + abs(Double(im.pixels[p + 1]) - rgb.1) + abs(Double(im.pixels[p + 2]) - rgb.2)
                        if d < 60 { sum += x; n += 1 }
                    }
                }
                return n > 0 ? Double(sum) / Double(n) : nil
            }
            guard let xa = meanX(a), let xb = meanX(b) else { continue }
            #expect(xa < xb, "sample \(i): left shape at x \(xa), right shape at x \(xb)")
            checked += 1
        }
        #expect(checked >= 5)
    }
}
