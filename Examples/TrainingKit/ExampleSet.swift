import Foundation
import GraphIR
import GraphIO

/// An image-caption split held in memory as normalized pixels (CHW, CLIP mean/std) and captions.
///
/// The tiny config's data (20,000 images of 32×32) is 245 MB of floats, so the trainers decode every image once,
/// in parallel, before the step loop; nothing is decoded inside it.
public struct ExampleSet {
    public var pixels: [Float]
    public var captions: [String]
    public let imageSize: Int
    public var count: Int { captions.count }
    public var pixelsPerImage: Int { 3 * imageSize * imageSize }

    public init(pixels: [Float], captions: [String], imageSize: Int) {
        self.pixels = pixels
        self.captions = captions
        self.imageSize = imageSize
    }

    /// Decodes and preprocesses every sample of a dataset (resize to `imageSize`, rescale, normalize).
    public init(_ dataset: any ImageCaptionDataset, imageSize: Int, limit: Int? = nil, threads: Int = 2) throws {
        let n = min(dataset.count, limit ?? .max)
        let pre = ImagePreprocessor(size: imageSize)
        let per = 3 * imageSize * imageSize
        var pixels = [Float](repeating: 0, count: n * per)
        var captions = [String](repeating: "", count: n)
        var failure: Error?
        let lock = NSLock()
        let chunks = max(1, threads * 4)
        pixels.withUnsafeMutableBufferPointer { pbuf in
            let out = SendableBuffer(pbuf)
            captions.withUnsafeMutableBufferPointer { cbuf in
                let caps = SendableStrings(cbuf)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let lo = n * c / chunks, hi = n * (c + 1) / chunks
                    for i in lo..<hi {
                        do {
                            let s = try dataset.sample(at: i)
                            let x = pre.normalized(pre.resized(s.image))
                            for k in 0..<per { out.base[i * per + k] = x[k] }
                            caps.base[i] = s.caption
                        } catch {
                            lock.lock()
                            if failure == nil { failure = error }
                            lock.unlock()
                            return
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        self.init(pixels: pixels, captions: captions, imageSize: imageSize)
    }

    /// The pixels of the given examples, batched `[B, 3, S, S]`.
    public func pixelBatch(_ indices: [Int]) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(indices.count * pixelsPerImage)
        for i in indices { out.append(contentsOf: pixels[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)]) }
        return out
    }

    public func subset(_ range: Range<Int>) -> ExampleSet {
        ExampleSet(pixels: Array(pixels[(range.lowerBound * pixelsPerImage)..<(range.upperBound * pixelsPerImage)]),
                   captions: Array(captions[range]), imageSize: imageSize)
    }
}

struct SendableBuffer: @unchecked Sendable { let base: UnsafeMutableBufferPointer<Float>; init(_ b: UnsafeMutableBufferPointer<Float>) { base = b } }
struct SendableStrings: @unchecked Sendable { let base: UnsafeMutableBufferPointer<String>; init(_ b: UnsafeMutableBufferPointer<String>) { base = b } }

/// Where the trainers' data comes from.
public enum DataSource: Equatable {
    /// The built-in procedural shapes dataset (no files).
    case builtin(train: Int, heldOut: Int, imageSize: Int, seed: UInt64)
    /// A folder with `train/` and `val/` COCO-style splits (`captions.json` + `images/`), as
    /// `make_shapes_reference.py` writes, or a single split folder/file used for both (held-out = its tail).
    case folder(String)

    public func load(imageSize: Int, limitTrain: Int? = nil, limitHeldOut: Int? = nil) throws -> (train: ExampleSet, heldOut: ExampleSet) {
        switch self {
        case .builtin(let train, let heldOut, let size, let seed):
            let tr = ShapesDataset(split: .train, count: train, imageSize: size, seed: seed)
            let ho = ShapesDataset(split: .heldOut, count: heldOut, imageSize: size, seed: seed)
            return (try ExampleSet(tr, imageSize: imageSize, limit: limitTrain), try ExampleSet(ho, imageSize: imageSize, limit: limitHeldOut))
        case .folder(let path):
            let fm = FileManager.default
            func open(_ p: String) throws -> CaptionFileDataset {
                var dir: ObjCBool = false
                if fm.fileExists(atPath: p, isDirectory: &dir), dir.boolValue {
                    let coco = p + "/captions.json"
                    guard fm.fileExists(atPath: coco) else { throw TrainingError("\(p): no captions.json (expected a COCO-style split folder)") }
                    return try CaptionFileDataset(cocoCaptions: coco, imageDirectory: p + "/images")
                }
                return try CaptionFileDataset.open(p)
            }
            if fm.fileExists(atPath: path + "/train"), fm.fileExists(atPath: path + "/val") {
                return (try ExampleSet(open(path + "/train"), imageSize: imageSize, limit: limitTrain),
                        try ExampleSet(open(path + "/val"), imageSize: imageSize, limit: limitHeldOut))
            }
            let all = try ExampleSet(open(path), imageSize: imageSize)
            let held = min(limitHeldOut ?? max(1, all.count / 20), all.count / 2)
            let trainEnd = min(all.count - held, limitTrain ?? .max)
            return (all.subset(0..<trainEnd), all.subset((all.count - held)..<all.count))
        }
    }
}

/// The examples of each step: epochs are seeded permutations, so a batch is a pure function of (seed, step) and a
/// resumed run sees the same data. The permutation is computed once per epoch, not once per step.
public final class BatchSchedule {
    let batch: Int, count: Int, seed: Int
    var epoch = -1
    var order: [Int] = []

    public init(batch: Int, count: Int, seed: Int) {
        self.batch = batch
        self.count = count
        self.seed = seed
    }

    public func indices(step: Int) -> [Int] {
        let perEpoch = max(count / batch, 1)
        let e = step / perEpoch, slot = step % perEpoch
        if e != epoch {
            // Fisher-Yates with counter-based random numbers keyed by (seed, epoch).
            order = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) {
                let r = Int(Double(counterUniform(seed: seed, salt: 0x5EED + e, index: i)) * Double(i + 1))
                order.swapAt(i, min(r, i))
            }
            epoch = e
        }
        return (0..<batch).map { order[(slot * batch + $0) % count] }
    }
}

/// Batches of hard negatives: groups of an anchor and `neighbours` examples whose captions differ from the
/// anchor's in exactly one word ("a large red circle at the top" and "… red square at the top").
///
/// In a random batch the colour, size and position words almost always tell two captions apart, so a contrastive
/// loss never needs the rarer attribute (the shapes set's shape kind) and the image encoder does not learn it.
/// One-word neighbours make every word decide some pair. Anchors follow a `BatchSchedule` (so each epoch sees
/// every example as an anchor); the neighbours are drawn with counter-based random numbers keyed by the step,
/// so a resumed run draws the same batches. No two captions of a group are identical, and an anchor without
/// one-word neighbours is completed with random examples.
public final class NeighbourBatches {
    let anchors: BatchSchedule
    let batch: Int, group: Int, seed: Int
    let captions: [String]
    /// Groups of examples that share a caption up to one word (each with at least two distinct captions), and the
    /// groups of each example.
    let groups: [[Int]]
    let groupsOf: [[Int]]

    public init(captions: [String], batch: Int, neighbours: Int, seed: Int) {
        precondition(neighbours >= 1 && batch >= neighbours + 1, "NeighbourBatches: batch \(batch) < 1 + neighbours \(neighbours)")
        self.captions = captions
        self.batch = batch
        self.group = neighbours + 1
        self.seed = seed
        anchors = BatchSchedule(batch: (batch + neighbours) / group, count: captions.count, seed: seed)
        // Key = the caption with one word replaced by a wildcard: members of a key differ at most in that word.
        var byKey: [String: [Int]] = [:]
        for (i, caption) in captions.enumerated() {
            let words = WordTokenizer.split(caption)
            for p in words.indices {
                var key = words
                key[p] = "\u{1}"
                byKey[key.joined(separator: " "), default: []].append(i)
            }
        }
        var groups: [[Int]] = [], groupsOf = [[Int]](repeating: [], count: captions.count)
        for members in byKey.values where Set(members.map { captions[$0] }).count > 1 {
            for i in members { groupsOf[i].append(groups.count) }
            groups.append(members)
        }
        self.groups = groups
        self.groupsOf = groupsOf
    }

    public func indices(step: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(batch)
        var draw = 0
        func uniform(_ n: Int) -> Int {
            draw += 1
            return min(n - 1, Int(Double(counterUniform(seed: seed, salt: 0x4E16, index: step &* 65_536 &+ draw)) * Double(n)))
        }
        for anchor in anchors.indices(step: step) where out.count < batch {
            out.append(anchor)
            var taken: Set<String> = [captions[anchor]]
            let near = Set(groupsOf[anchor].flatMap { groups[$0] })
            for _ in 1..<group where out.count < batch {
                let fresh = near.filter { !taken.contains(captions[$0]) }.sorted()
                let pick = fresh.isEmpty ? uniform(captions.count) : fresh[uniform(fresh.count)]
                taken.insert(captions[pick])
                out.append(pick)
            }
        }
        return out
    }
}
