import Foundation
import GraphIR

/// A checkpoint made of one or more safetensors files: a single `model.safetensors`, or shards listed in
/// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).
/// Every shard is opened and validated up front; every tensor of the weight map must be in its shard.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let shards: [SafetensorsFile]
    /// Tensor name → index into `shards`.
    let location: [String: Int]

    /// Opens a model folder (index file or single `model.safetensors`), an index file, or a safetensors file.
    public init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw GraphIOError(.file, "\(path): no such file or directory")
        }
        var indexPath: String?
        var single: String?
        if isDir.boolValue {
            let idx = path + "/model.safetensors.index.json"
            let one = path + "/model.safetensors"
            if FileManager.default.fileExists(atPath: idx) {
                indexPath = idx
            } else if FileManager.default.fileExists(atPath: one) {
                single = one
            } else {
                throw GraphIOError(.file, "\(path): neither model.safetensors.index.json nor model.safetensors found")
            }
        } else if path.hasSuffix(".json") {
            indexPath = path
        } else {
            single = path
        }
        if let single {
            let f = try SafetensorsFile(path: single)
            shards = [f]
            location = Dictionary(uniqueKeysWithValues: f.names.map { ($0, 0) })
            return
        }
        let idx = indexPath!
        let root = try JSONParser.parse(fileAt: idx)
        guard let map = root.objectValue?["weight_map"]?.objectValue else {
            throw GraphIOError(.safetensors, "\(idx): missing \"weight_map\" object")
        }
        let dir = URL(fileURLWithPath: idx).deletingLastPathComponent().path
        var files: [SafetensorsFile] = []
        var fileIndex: [String: Int] = [:]
        var loc: [String: Int] = [:]
        for name in map.keys {
            guard let shard = map[name]!.stringValue, !shard.contains("/"), !shard.isEmpty else {
                throw GraphIOError(.safetensors, "\(idx): weight_map[\"\(name)\"] must be a shard file name in the same folder")
            }
            if fileIndex[shard] == nil {
                fileIndex[shard] = files.count
                files.append(try SafetensorsFile(path: dir + "/" + shard))
            }
            let i = fileIndex[shard]!
            guard files[i].contains(name) else {
                throw GraphIOError(.safetensors, "\(idx): weight_map says '\(name)' is in \(shard), but that shard has no such tensor")
            }
            loc[name] = i
        }
        for (i, f) in files.enumerated() {
            for n in f.names where loc[n] != i {
                throw GraphIOError(.safetensors, "\(f.path): tensor '\(n)' is not listed for this shard in \(idx)")
            }
        }
        shards = files
        location = loc
    }

    /// All tensor names, sorted.
    public var names: [String] { location.keys.sorted() }

    /// The shard holding a tensor.
    public func file(for name: String) throws -> SafetensorsFile {
        guard let i = location[name] else {
            throw GraphIOError(.safetensors, "checkpoint (\(shards.map(\.path).joined(separator: ", "))): no tensor named '\(name)'")
        }
        return shards[i]
    }

    /// Header entry of a tensor, from whichever shard holds it.
    public func info(_ name: String) throws -> SafetensorsTensorInfo { try file(for: name).info(name) }
    /// See `SafetensorsFile.tensor(_:)`.
    public func tensor(_ name: String) throws -> Tensor { try file(for: name).tensor(name) }
    /// See `SafetensorsFile.floats(_:)`.
    public func floats(_ name: String) throws -> [Float] { try file(for: name).floats(name) }
    /// See `SafetensorsFile.withFloats(_:_:)` (zero-copy for aligned F32).
    public func withFloats<R>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        try file(for: name).withFloats(name, body)
    }
}
