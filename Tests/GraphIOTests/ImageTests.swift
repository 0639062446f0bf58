import Foundation
import Testing
import GraphIR
@testable import GraphIO

func u8(_ f: SafetensorsFile, _ name: String) throws -> [UInt8] { Array(try f.rawBytes(name)) }

@Suite struct ImageDecodingTests {
    static let pngNames = ["gray1", "gray2", "gray4", "gray8", "gray16", "rgb8", "rgb16", "rgba8", "graya8", "rgba16",
                           "palette1", "palette2", "palette4", "palette8", "palette2_trns", "palette8_trns"]

    /// Every PNG colour type and bit depth decodes to the RGB the fixture script computed (exact, except
    /// 16-bit alpha where libpng's premultiplication may round differently: ±1).
    @Test(arguments: pngNames)
    func decodesPNG(_ name: String) throws {
        let expected = try SafetensorsFile(path: fixturePath("images/png_expected.safetensors"))
        let im = try ImageDecoder.decode(path: fixturePath("images/png/\(name).png"))
        let want = try u8(expected, name)
        #expect(try [im.height, im.width, 3] == expected.info(name).shape)
        let maxDiff = zip(im.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(maxDiff <= (name == "rgba16" ? 1 : 0), "\(name): max difference \(maxDiff)")
    }

    @Test func jpegMatchesPILDecode() throws {
        let pil = try SafetensorsFile(path: fixturePath("images/pil_expected.safetensors"))
        let im = try ImageDecoder.decode(path: fixturePath("images/photo.jpg"))
        #expect(im.width == 61 && im.height == 47)
        let want = try u8(pil, "photo.jpg.decoded")
        let maxDiff = zip(im.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 99
        // Same libjpeg-turbo IDCT (islow) and upsampling as Pillow's bundled copy; ≤ 1 allowed across versions.
        #expect(maxDiff <= 1, "max difference \(maxDiff)")
    }

    @Test func pngWriterRoundTrips() throws {
        var g = SeededGenerator(seed: 3)
        let im = RGBImage(width: 17, height: 9, pixels: (0..<(17 * 9 * 3)).map { _ in UInt8(g.below(256)) })
        let path = temporaryDirectory() + "/w.png"
        try PNGWriter.write(im, to: path)
        #expect(try ImageDecoder.decode(path: path) == im)
    }

    @Test(arguments: [
        ("truncated PNG", "png/rgb8.png", 60, ["corrupt or truncated PNG"]),
        ("truncated PNG header", "png/rgb8.png", 20, ["invalid PNG header"]),
        ("truncated JPEG", "photo.jpg", 700, ["truncated JPEG data", "scanline"]),
        ("truncated JPEG header", "photo.jpg", 40, ["corrupt JPEG"]),
        ("empty file", "photo.jpg", 0, ["empty file"]),
    ])
    func truncatedImagesGiveClearErrors(_ label: String, _ file: String, _ keep: Int, _ fragments: [String]) throws {
        let bytes = Array(try readFile(fixturePath("images/" + file)).prefix(keep))
        expectIOError(fragments + ["cut.bin"]) { _ = try ImageDecoder.decode(bytes, name: "cut.bin") }
    }

    @Test(arguments: [
        ("bad/zero_width.png", ["zero_width.png", "width"]),
        ("bad/huge.png", ["huge.png", "100000x100000", "limit"]),
        ("bad/zero_height.jpg", ["zero_height.jpg", "corrupt JPEG"]),
        ("bad/huge.jpg", ["huge.jpg", "65000x65000", "limit"]),
    ])
    func badHeadersGiveClearErrors(_ file: String, _ fragments: [String]) throws {
        expectIOError(fragments) { _ = try ImageDecoder.decode(path: fixturePath("images/" + file)) }
    }

    @Test func notAnImageAndMissingFile() throws {
        expectIOError(["x.txt", "not a PNG or JPEG"]) { _ = try ImageDecoder.decode(Array("hello".utf8), name: "x.txt") }
        expectIOError(["/nonexistent/a.png", "cannot read"]) { _ = try ImageDecoder.decode(path: "/nonexistent/a.png") }
    }
}

@Suite struct ImagePreprocessingTests {
    static let pil = try! SafetensorsFile(path: fixturePath("images/pil_expected.safetensors"))

    /// Bicubic resize equals Pillow's `resize(BICUBIC)` exactly (down 61x47→24, up →96, and with a box).
    @Test(arguments: ["photo.png", "photo.jpg"])
    func resizeMatchesPIL(_ file: String) throws {
        let decoded = RGBImage(width: 61, height: 47, pixels: try u8(Self.pil, "\(file).decoded"))
        for n in [24, 96] {
            let r = BicubicResize.resize(decoded, width: n, height: n)
            #expect(r.pixels == (try u8(Self.pil, "\(file).resized\(n)")), "\(file) → \(n)")
        }
        if file == "photo.png" {
            let r = BicubicResize.resize(decoded, width: 16, height: 16, box: (5, 3, 40, 30))
            #expect(r.pixels == (try u8(Self.pil, "photo.png.box")))
        }
    }

    /// The whole pipeline from the file on disk to normalised f32 values, against PIL + the transformers recipe.
    /// Tolerance: 1e-6 for PNG (identical uint8 values; float rounding only); for JPEG one uint8 step
    /// after normalisation (1/255/0.2613 ≈ 0.0151) to allow a different libjpeg-turbo version.
    @Test(arguments: ["photo.png", "photo.jpg"])
    func pixelValuesMatchPIL(_ file: String) throws {
        let im = try ImageDecoder.decode(path: fixturePath("images/" + file))
        for n in [24, 96] {
            let t = ImagePreprocessor(size: n).pixelValues([im, im])
            #expect(t.shape == [2, 3, n, n] && t.dtype == .f32)
            let want = try Self.pil.floats("\(file).pixels\(n)")
            let got = Array(t.floats[(3 * n * n)...])
            let maxDiff = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(maxDiff <= (file.hasSuffix(".png") ? 1e-6 : 0.0152), "\(file) \(n): max difference \(maxDiff)")
        }
    }

    @Test func augmentationIsSeededAndVaries() throws {
        let im = try ImageDecoder.decode(path: fixturePath("images/photo.png"))
        let p = ImagePreprocessor(size: 20)
        var a = SeededGenerator(seed: 11), b = SeededGenerator(seed: 11)
        let runA = (0..<8).map { _ in p.augmented(im, rng: &a) }
        let runB = (0..<8).map { _ in p.augmented(im, rng: &b) }
        #expect(runA == runB)
        #expect(Set(runA.map(\.pixels)).count == 8)
        #expect(runA.allSatisfy { $0.width == 20 && $0.height == 20 })
        // Crops stay inside the image and within the scale bounds (or the fallback centre crop).
        var g = SeededGenerator(seed: 5)
        for _ in 0..<200 {
            let (x, y, w, h) = ImagePreprocessor.cropBox(width: 61, height: 47, rng: &g, scale: 0.5...1, ratio: 0.75...(4.0 / 3))
            #expect(x >= 0 && y >= 0 && x + w <= 61 && y + h <= 47)
            #expect(Double(w * h) >= 0.45 * 61 * 47)
        }
        // A flip with probability 1 mirrors the un-flipped crop.
        var c = SeededGenerator(seed: 2), d = SeededGenerator(seed: 2)
        let flipped = p.augmented(im, rng: &c, flipProbability: 1)
        let plain = p.augmented(im, rng: &d, flipProbability: 0)
        #expect(flipped == plain.flippedHorizontally())
    }
}
