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
