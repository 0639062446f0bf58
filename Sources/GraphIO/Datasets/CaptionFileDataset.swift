import Foundation

/// An image-caption set on disk: a COCO-style `captions.json` (`{"images": [{"id", "file_name"}],
/// "annotations": [{"image_id", "caption"}]}` plus an image folder; one sample per annotation), or a
/// `jsonl` file of `{"image": path, "caption": text}` lines (paths relative to the jsonl's folder).
/// The caption file is validated on open (errors name the entry); images are decoded on demand, and a
/// missing or corrupt image is an error naming the entry and the file.
public struct CaptionFileDataset: ImageCaptionDataset {
    public struct Entry: Hashable, Sendable {
        public var imagePath: String
        public var caption: String
        /// e.g. "captions.json annotations[12]" or "data.jsonl line 7".
        public var origin: String
    }

    public let entries: [Entry]
    public var count: Int { entries.count }

    /// Entries already in memory (e.g. built by an importer).
    public init(entries: [Entry]) { self.entries = entries }

    /// Opens a folder holding `captions.json`, a `.json` COCO caption file, or a `.jsonl` file.
    public static func open(_ path: String) throws -> CaptionFileDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw GraphIOError(.dataset, "\(path): no such file or directory")
        }
        if isDir.boolValue { return try CaptionFileDataset(cocoCaptions: path + "/captions.json") }
        if path.hasSuffix(".jsonl") { return try CaptionFileDataset(jsonl: path) }
        return try CaptionFileDataset(cocoCaptions: path)
    }

    /// A COCO caption file; images are looked up in `imageDirectory`, by default `images/` next to the file
    /// when that folder exists, else the file's own folder.
    public init(cocoCaptions path: String, imageDirectory: String? = nil) throws {
        func fail(_ what: String) -> GraphIOError { GraphIOError(.dataset, "\(path): \(what)") }
        let root = try JSONParser.parse(fileAt: path)
        guard let obj = root.objectValue else { throw fail("expected a JSON object with \"images\" and \"annotations\"") }
        guard let images = obj["images"]?.arrayValue else { throw fail("missing \"images\" array") }
        guard let annotations = obj["annotations"]?.arrayValue else { throw fail("missing \"annotations\" array") }
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        let imageDir = imageDirectory
            ?? (FileManager.default.fileExists(atPath: dir + "/images", isDirectory: &isDir) && isDir.boolValue ? dir + "/images" : dir)
        var files: [Int: String] = [:]
        for (i, im) in images.enumerated() {
            guard let o = im.objectValue, let id = o["id"]?.intValue, let name = o["file_name"]?.stringValue, !name.isEmpty else {
                throw fail("images[\(i)] needs an integer \"id\" and a non-empty \"file_name\"")
            }
            guard files[id] == nil else { throw fail("images[\(i)]: duplicate image id \(id)") }
            files[id] = name.hasPrefix("/") ? name : imageDir + "/" + name
        }
        var entries: [Entry] = []
        for (i, an) in annotations.enumerated() {
            guard let o = an.objectValue, let imageID = o["image_id"]?.intValue else {
                throw fail("annotations[\(i)] needs an integer \"image_id\"")
            }
            guard let caption = o["caption"]?.stringValue, !caption.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw fail("annotations[\(i)] (image_id \(imageID)) has no non-empty \"caption\" string")
            }
            guard let file = files[imageID] else { throw fail("annotations[\(i)] refers to image_id \(imageID), which is not in \"images\"") }
            entries.append(Entry(imagePath: file, caption: caption, origin: "\(path) annotations[\(i)]"))
        }
        self.entries = entries
    }

    /// A jsonl file: one `{"image": path, "caption": text}` object per non-empty line.
    public init(jsonl path: String) throws {
        let text = String(decoding: try readFile(path), as: UTF8.self)
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var entries: [Entry] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let where_ = "\(path) line \(i + 1)"
            let v: JSONValue
            do {
                v = try JSONParser.parse(String(trimmed), context: where_)
            } catch let e as GraphIOError {
                throw GraphIOError(.dataset, e.message)
            }
            guard let o = v.objectValue, let image = o["image"]?.stringValue, !image.isEmpty else {
                throw GraphIOError(.dataset, "\(where_): needs a non-empty \"image\" string")
            }
            guard let caption = o["caption"]?.stringValue, !caption.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw GraphIOError(.dataset, "\(where_): needs a non-empty \"caption\" string")
            }
            entries.append(Entry(imagePath: image.hasPrefix("/") ? image : dir + "/" + image, caption: caption, origin: where_))
        }
        self.entries = entries
    }

    /// The caption of entry `index` (no image decoding).
    public func caption(at index: Int) throws -> String { try entry(index).caption }

    func entry(_ index: Int) throws -> Entry {
        guard index >= 0 && index < entries.count else {
            throw GraphIOError(.dataset, "sample index \(index) is outside 0..<\(entries.count)")
        }
        return entries[index]
    }

    /// Decodes entry `index`'s image; the error names the entry and the image file.
    public func sample(at index: Int) throws -> ImageCaptionSample {
        let e = try entry(index)
        do {
            let image = try ImageDecoder.decode(path: e.imagePath)
            return ImageCaptionSample(image: image, caption: e.caption, source: e.origin)
        } catch let err as GraphIOError {
            // Decoder messages start with the path already.
            let detail = err.message.hasPrefix(e.imagePath) ? err.message : "image \(e.imagePath): \(err.message)"
            throw GraphIOError(.dataset, "\(e.origin): \(detail)")
        }
    }

    /// Writes entries as jsonl (paths as given), atomically.
    public static func writeJSONL(_ entries: [(image: String, caption: String)], to path: String) throws {
        let lines = entries.map { "{\"image\": \(jsonQuoted($0.image)), \"caption\": \(jsonQuoted($0.caption))}\n" }
        try writeAtomically(Array(lines.joined().utf8), to: path)
    }
}
