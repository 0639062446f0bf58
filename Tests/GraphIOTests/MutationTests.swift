import Foundation
import Testing
@testable import GraphIO

/// Seeded random damage to valid files: every mutant must either load or throw a `GraphIOError`; a crash or
/// an out-of-bounds read would stop the test process. (Debug builds check every array access.)
@Suite struct MutationTests {
    /// A mutant of `bytes`: truncated, or with 1–8 bytes overwritten (mostly inside the first `hot` bytes).
    static func mutate(_ bytes: [UInt8], hot: Int, _ g: inout SeededGenerator) -> [UInt8] {
        if g.below(4) == 0 { return Array(bytes.prefix(g.below(bytes.count + 1))) }
        var m = bytes
        for _ in 0..<(1 + g.below(8)) {
            let i = g.below(4) == 0 ? g.below(m.count) : g.below(min(hot, m.count))
            m[i] = g.below(3) == 0 ? [0x00, 0xFF, 0x22, 0x7B, 0x7D, 0x5B, 0x2C, 0x39][g.below(8)] : UInt8(g.below(256))
        }
        return m
    }

    @Test func damagedSafetensorsNeverCrash() throws {
        let good = try readFile(fixturePath("safetensors/python_written.safetensors"))
        let headerEnd = 8 + Int(good[0]) + Int(good[1]) << 8
        let path = temporaryDirectory() + "/m.safetensors"
        var g = SeededGenerator(seed: 1)
        var rejected = 0
        for _ in 0..<1000 {
            writeBytes(Self.mutate(good, hot: headerEnd, &g), path)
            do {
                let f = try SafetensorsFile(path: path)
                for t in f.tensors {
                    _ = try? f.tensor(t.name)
                    _ = try f.floats(t.name)
                }
            } catch is GraphIOError {
                rejected += 1
            }
        }
        #expect(rejected > 600)
    }

    @Test func damagedImagesNeverCrash() throws {
        var g = SeededGenerator(seed: 2)
        var rejected = 0, total = 0
        for file in ["png/rgba8.png", "png/palette4.png", "png/rgb16.png", "photo.jpg"] {
            let good = try readFile(fixturePath("images/" + file))
            for _ in 0..<150 {
                total += 1
                do {
                    let im = try ImageDecoder.decode(Self.mutate(good, hot: 200, &g), name: file)
                    #expect(im.pixels.count == im.width * im.height * 3)
                } catch is GraphIOError {
                    rejected += 1
                }
            }
        }
        #expect(rejected > total / 3)
    }

    @Test func damagedGGUFNeverCrashes() throws {
        let good = try readFile(fixturePath("tokenizers/tiny_bpe.gguf"))
        let path = temporaryDirectory() + "/m.gguf"
        var g = SeededGenerator(seed: 3)
        var rejected = 0
        for _ in 0..<800 {
            writeBytes(Self.mutate(good, hot: good.count, &g), path)
            do {
                _ = try ByteLevelBPETokenizer(gguf: GGUFFile(path: path))
            } catch is GraphIOError {
                rejected += 1
            }
        }
        #expect(rejected > 300)
    }

    @Test func damagedJSONNeverCrashes() throws {
        let good = Array(try readFile(fixturePath("shapes_reference/val/captions.json")))
        var g = SeededGenerator(seed: 4)
        var rejected = 0
        for _ in 0..<1500 {
            do {
                _ = try JSONParser.parse(Self.mutate(good, hot: good.count, &g), context: "mutant")
            } catch is GraphIOError {
                rejected += 1
            }
        }
        #expect(rejected > 700)
    }
}
