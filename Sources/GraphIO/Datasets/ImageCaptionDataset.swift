/// One image with its caption; `source` says where it came from (file, entry) for error messages.
public struct ImageCaptionSample: Sendable {
    public var image: RGBImage
    public var caption: String
    public var source: String

    public init(image: RGBImage, caption: String, source: String) {
        self.image = image
        self.caption = caption
        self.source = source
    }
}

/// A random-access image-caption set. `sample(at:)` may decode a file and throws a `GraphIOError` naming
/// the entry and file when it cannot.
public protocol ImageCaptionDataset: Sendable {
    var count: Int { get }
    func sample(at index: Int) throws -> ImageCaptionSample
    /// The caption of an entry without decoding its image.
    func caption(at index: Int) throws -> String
    /// True when captions name left/right or positions, so horizontal flips and strong crops would make
    /// them wrong; the loader then does not flip and crops mildly.
    var spatialCaptions: Bool { get }
}

extension ImageCaptionDataset {
    public var spatialCaptions: Bool { false }
}

/// What a loader does with an entry whose image or caption cannot be read.
public enum BadSamplePolicy: Sendable, Equatable {
    /// Stop with the error (the default).
    case fail
    /// Skip it, count it, and keep its message (`DataLoader.skipped`). Never silent.
    case skipAndCount
}

/// FNV-1a 64-bit: a hash that is the same on every run and platform (Swift's `Hasher` is seeded per process).
public func stableHash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}
