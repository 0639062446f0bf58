import Foundation
import GraphIR

/// One training or evaluation batch.
public struct Batch: @unchecked Sendable {
    /// Dataset indices of the samples, in batch order.
    public var indices: [Int]
    /// The images as fed (after resize or augmentation), for contact sheets.
    public var images: [RGBImage]
    public var captions: [String]
    /// `f32[B, 3, size, size]`, CLIP-normalised.
    public var pixelValues: Tensor
    /// Token ids and attention masks, when the loader has a tokenizer.
    public var tokens: TokenBatch?
}

/// Shuffles, decodes, augments, tokenizes and batches an `ImageCaptionDataset` on a background thread, a
/// few batches ahead of the consumer, so the step loop does not wait on decoding. Everything random
/// (the epoch's order, each sample's augmentation) comes from the seed, the epoch and the sample index,
/// never from thread timing: the same seed gives the same batches.
public final class DataLoader: @unchecked Sendable {
    /// Batching, shuffling, augmentation, prefetch and bad-sample settings; only `batchSize` is required.
    public struct Options: Sendable {
        public var batchSize: Int
        public var shuffle = true
        public var seed: UInt64 = 0
        /// Random resized crop + horizontal flip (training); otherwise a plain resize.
        public var augment = false
        /// Area fraction of the random resized crop.
        public var cropScale: ClosedRange<Double> = 0.5...1.0
        public var flipProbability = 0.5
        /// Drop a last batch smaller than `batchSize`.
        public var dropLast = false
        /// Batches prepared ahead of the consumer.
        public var prefetch = 2
        public var onBadSample: BadSamplePolicy = .fail
        public var maxTokens: Int?
        public var padding: PaddingStrategy = .longest

        public init(batchSize: Int) { self.batchSize = batchSize }
    }

    public let dataset: any ImageCaptionDataset
    public let preprocessor: ImagePreprocessor
    public let tokenizer: (any TextTokenizer)?
    public let options: Options
    let lock = NSLock()
    var skippedMessages: [String] = []

    /// A loader over `dataset`; captions are tokenized when a tokenizer is given.
    public init(dataset: any ImageCaptionDataset, preprocessor: ImagePreprocessor, tokenizer: (any TextTokenizer)? = nil,
                options: Options) {
        precondition(options.batchSize > 0 && options.prefetch > 0, "DataLoader: batchSize and prefetch must be positive")
        self.dataset = dataset
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.options = options
    }

    /// Messages of every sample skipped so far (policy `.skipAndCount`), each naming the entry and file.
    public var skipped: [String] {
        lock.lock()
        defer { lock.unlock() }
        return skippedMessages
    }

    /// The sample order of an epoch (a seeded Fisher–Yates shuffle, or 0..<count).
    public func order(epoch: Int) -> [Int] {
        var idx = Array(0..<dataset.count)
        guard options.shuffle else { return idx }
        var g = SeededGenerator(seed: options.seed).fork(0x5EED_0000 &+ UInt64(epoch))
        if idx.count > 1 {
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, g.below(i + 1)) }
        }
        return idx
    }

    /// Starts producing an epoch's batches in the background.
    public func epoch(_ epoch: Int) -> EpochIterator {
        EpochIterator(loader: self, epoch: epoch)
    }

    /// Builds one batch from samples (no threads involved; the iterator calls this on its worker).
    func makeBatch(_ samples: [(Int, ImageCaptionSample)], epoch: Int) -> Batch {
        let images = samples.map { index, s -> RGBImage in
            if options.augment {
                var g = SeededGenerator(seed: options.seed).fork(UInt64(epoch) << 32 ^ UInt64(index))
                // A flipped "left of" image contradicts its caption, and a strong crop moves or cuts the shapes.
                let spatial = dataset.spatialCaptions
                let scale = spatial ? max(0.85, options.cropScale.lowerBound)...max(0.85, options.cropScale.upperBound) : options.cropScale
                return preprocessor.augmented(s.image, rng: &g, scale: scale, flipProbability: spatial ? 0 : options.flipProbability)
            }
            return preprocessor.resized(s.image)
        }
        let captions = samples.map { $0.1.caption }
        return Batch(indices: samples.map { $0.0 }, images: images, captions: captions,
                     pixelValues: preprocessor.batchTensor(images),
                     tokens: tokenizer?.encodeBatch(captions, maxLength: options.maxTokens, padding: options.padding))
    }

    func recordSkip(_ message: String) {
        lock.lock()
        skippedMessages.append(message)
        lock.unlock()
    }
}

/// The batches of one epoch, prepared by a background thread. `next()` returns nil at the end and throws
/// the first bad-sample error under policy `.fail`. Dropping the iterator stops the thread.
public final class EpochIterator: @unchecked Sendable {
    let state: PrefetchState
    /// Seconds `next()` spent waiting for the worker (0 when prefetching keeps up).
    public private(set) var waitSeconds = 0.0

    init(loader: DataLoader, epoch: Int) {
        state = PrefetchState(capacity: loader.options.prefetch)
        let state = self.state
        let thread = Thread {
            EpochIterator.produce(loader: loader, epoch: epoch, state: state)
        }
        thread.name = "graphc.DataLoader.prefetch"
        thread.start()
    }

    deinit { state.cancel() }

    /// The next batch (waiting for the worker if it is behind), nil after the last; throws a bad-sample error under `.fail`.
    public func next() throws -> Batch? {
        let start = Date()
        let item = state.pop()
        waitSeconds += Date().timeIntervalSince(start)
        switch item {
        case .batch(let b): return b
        case .failure(let e): throw e
        case .end: return nil
        }
    }

    static func produce(loader: DataLoader, epoch: Int, state: PrefetchState) {
        let order = loader.order(epoch: epoch)
        let size = loader.options.batchSize
        var pending: [(Int, ImageCaptionSample)] = []
        for index in order {
            if state.isCancelled { return }
            do {
                pending.append((index, try loader.dataset.sample(at: index)))
            } catch {
                if loader.options.onBadSample == .skipAndCount {
                    loader.recordSkip("\(error)")
                    continue
                }
                state.push(.failure(error))
                return
            }
            if pending.count == size {
                guard state.push(.batch(loader.makeBatch(pending, epoch: epoch))) else { return }
                pending.removeAll(keepingCapacity: true)
            }
        }
        if !pending.isEmpty && !loader.options.dropLast {
            guard state.push(.batch(loader.makeBatch(pending, epoch: epoch))) else { return }
        }
        state.push(.end)
    }
}

/// A bounded queue between the prefetch thread and the consumer.
final class PrefetchState: @unchecked Sendable {
    enum Item { case batch(Batch), failure(Error), end }
    let condition = NSCondition()
    var items: [Item] = []
    let capacity: Int
    var cancelled = false

    init(capacity: Int) { self.capacity = capacity }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Blocks while full; returns false when cancelled.
    @discardableResult
    func push(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func pop() -> Item {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty { condition.wait() }
        let item = items.removeFirst()
        // The end marker stays so that further calls keep returning the end.
        if case .end = item { items.insert(item, at: 0) }
        if case .failure = item { items.insert(.end, at: 0) }
        condition.broadcast()
        return item
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
