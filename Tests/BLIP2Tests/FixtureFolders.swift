import Foundation
import GraphIO

/// The committed Hugging Face fixtures (Tests/BLIP2Tests/Fixtures, written by Tools/make_blip2_fixtures.py).
enum FixtureFolders {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let generation = ["opt-a", "opt-b", "t5"]
    static let retrieval = ["retrieval", "retrieval-legacy"]
    static let all = generation + retrieval

    static func path(_ name: String) -> String { root + "/" + name }

    /// `manifest.json` of a fixture: what transformers saved and which parameters it left out as tied.
    struct Manifest {
        var checkpointKeys: [String]
        var keysNotInCheckpoint: [String]
        var grads: [String]
        var architecture: String
    }

    static func manifest(_ name: String) throws -> Manifest {
        let json = try JSONParser.parse(fileAt: path(name) + "/manifest.json")
        func strings(_ key: String) -> [String] {
            json.objectValue?[key]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        return Manifest(checkpointKeys: strings("checkpoint_keys"), keysNotInCheckpoint: strings("parameter_keys_not_in_checkpoint"),
                        grads: strings("grads"), architecture: json.objectValue?["architecture"]?.stringValue ?? "")
    }

    /// Key → shape of every tensor in a fixture's `model.safetensors`.
    static func checkpointShapes(_ name: String) throws -> [String: [Int]] {
        let checkpoint = try SafetensorsCheckpoint(path: path(name))
        var shapes: [String: [Int]] = [:]
        for key in checkpoint.names { shapes[key] = try checkpoint.info(key).shape }
        return shapes
    }
}
