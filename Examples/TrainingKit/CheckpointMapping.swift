import Foundation
import GraphIR
import GraphRuntime
import GraphIO

/// Safetensors checkpoints a run uses instead of its own pretrained tiny models. Each path is a
/// `.safetensors` file, a sharded index (`model.safetensors.index.json`) or a Hugging Face model folder.
public struct ModelCheckpoints: Equatable {
    /// Frozen image encoder (`vision_model.*`, or the same names without the prefix).
    public var vision: String?
    /// Frozen language model (`language_model.*`, or a bare OPT checkpoint `model.decoder.*`).
    public var languageModel: String?
    /// A BERT checkpoint the Q-Former starts from (see QFormerInit.swift).
    public var qformerInit: String?
    public init(vision: String? = nil, languageModel: String? = nil, qformerInit: String? = nil) {
        self.vision = vision
        self.languageModel = languageModel
        self.qformerInit = qformerInit
    }
}

/// What loading a checkpoint into a graph's parameters did, in the terms `transformers` reports.
public struct CheckpointLoadReport: Equatable {
    /// Graph parameters that received checkpoint values.
    public var loaded: [String] = []
    /// Graph parameters (of the roles being loaded) the checkpoint has no value for.
    public var missing: [String] = []
    /// Checkpoint tensors that no graph parameter takes.
    public var unexpected: [String] = []
    /// Graph parameters whose extra rows (beyond the checkpoint's) were freshly initialised, e.g. `[DEC]`.
    public var extendedRows: [String] = []

    /// One line per non-empty list, names with layer indices folded (`layer.{0,2}`).
    public func summary(_ label: String, missingMeans: String = "missing") -> String {
        var lines = ["\(label): \(loaded.count) tensors loaded"]
        if !extendedRows.isEmpty { lines.append("  rows appended (freshly initialised): \(foldLayerIndices(extendedRows).joined(separator: ", "))") }
        if !missing.isEmpty { lines.append("  \(missingMeans) (\(missing.count)): \(foldLayerIndices(missing).joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("  unexpected, not used (\(unexpected.count)): \(foldLayerIndices(unexpected).joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}

/// Folds names that differ only in a layer index: `a.layer.0.x`, `a.layer.2.x` → `a.layer.{0,2}.x`.
func foldLayerIndices(_ names: [String]) -> [String] {
    var groups: [String: [Int]] = [:], order: [String] = []
    for n in names {
        var parts = n.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var index: Int?
        for k in 1..<max(parts.count, 1) where (parts[k - 1] == "layer" || parts[k - 1] == "layers") && Int(parts[k]) != nil {
            index = Int(parts[k])
            parts[k] = "{}"
            break
        }
        let key = index == nil ? n : parts.joined(separator: ".")
        if groups[key] == nil { order.append(key) }
        if let index { groups[key, default: []].append(index) } else { groups[key] = groups[key] ?? [] }
    }
    return order.map { key in
        guard let ix = groups[key], !ix.isEmpty else { return key }
        return key.replacingOccurrences(of: "{}", with: ix.count == 1 ? "\(ix[0])" : "{\(ix.sorted().map(String.init).joined(separator: ","))}")
    }
}

/// Loads checkpoint tensors into a parameter store by name, checking every shape against the graph.
public enum CheckpointMapping {
    /// The parameters of `roles` in `g` with their shapes.
    public static func parameterShapes(_ g: Graph, roles: Set<ParameterRole>) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for p in g.parameters where roles.contains(p.role) { out[p.name] = g.type(of: p.value).shape }
        return out
    }

    /// Maps every tensor of `checkpoint` through `rename` (checkpoint name → graph names; empty = not used) onto
    /// `expected` (graph name → shape) and writes the values into `store`.
    ///
    /// A shape mismatch is an error naming the checkpoint key, the graph parameter and both shapes. Graph names
    /// in `appendRows` may have more rows than the checkpoint (a vocabulary grown by `[DEC]`); the extra rows get
    /// `extraRows(name, count)`. Nothing is written unless every shape fits.
    public static func load(_ checkpoint: SafetensorsCheckpoint, rename: (String) -> [String], expected: [String: [Int]],
                            into store: ParameterStore, appendRows: Set<String> = [],
                            extraRows: (String, Int) -> [Float] = { [Float](repeating: 0, count: $1) }) throws -> CheckpointLoadReport {
        var report = CheckpointLoadReport()
        var plan: [(key: String, target: String, shape: [Int], extra: Int)] = []
        var problems: [String] = []
        var taken: [String: String] = [:]
        for key in checkpoint.names {
            let targets = rename(key).filter { expected[$0] != nil }
            if targets.isEmpty { report.unexpected.append(key); continue }
            let shape = try checkpoint.info(key).shape
            for target in targets {
                let want = expected[target]!
                if let other = taken[target] {
                    problems.append("'\(target)' is given by both '\(other)' and '\(key)'")
                    continue
                }
                taken[target] = key
                if shape == want {
                    plan.append((key, target, want, 0))
                } else if appendRows.contains(target), shape.count == want.count, shape.count >= 1, shape[0] < want[0],
                          Array(shape.dropFirst()) == Array(want.dropFirst()) {
                    plan.append((key, target, want, want[0] - shape[0]))
                } else {
                    problems.append("'\(key)'\(key == target ? "" : " → '\(target)'"): checkpoint shape \(shape), model expects \(want)")
                }
            }
        }
        guard problems.isEmpty else {
            throw TrainingError("checkpoint does not fit the model (\(problems.count) mismatched):\n  " + problems.joined(separator: "\n  "))
        }
        for item in plan {
            var values = try checkpoint.floats(item.key)
            if item.extra > 0 {
                let rowWidth = item.shape.dropFirst().reduce(1, *)
                values += extraRows(item.target, item.extra * rowWidth)
                report.extendedRows.append(item.target)
            }
            try store.set(item.target, floats: values, shape: item.shape)
            report.loaded.append(item.target)
        }
        report.loaded.sort()
        report.missing = expected.keys.filter { taken[$0] == nil }.sorted()
        return report
    }

    /// Opens a checkpoint path, naming the option it came from in errors.
    static func open(_ path: String, option: String) throws -> SafetensorsCheckpoint {
        do { return try SafetensorsCheckpoint(path: path) } catch {
            throw TrainingError("\(option) \(path): \(error)")
        }
    }

    /// `config.json` of a model folder, or next to a checkpoint file; `section` picks a sub-config of a
    /// composite config (a Blip2 config's `vision_config` / `text_config`) when present.
    static func config(near path: String, section: String? = nil) throws -> (object: JSONObject, path: String)? {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let dir = isDir.boolValue ? URL(fileURLWithPath: path) : URL(fileURLWithPath: path).deletingLastPathComponent()
        let file = dir.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let root = try JSONParser.parse(fileAt: file).objectValue else { throw TrainingError("\(file): not a JSON object") }
        if let section, let sub = root[section]?.objectValue { return (sub, file + " (\(section))") }
        return (root, file)
    }

    /// The number of `<prefix><N>.` layers among `names` (highest index + 1).
    static func layerCount(_ names: [String], prefix: String) -> Int {
        var top = -1
        for n in names where n.hasPrefix(prefix) {
            if let i = Int(n.dropFirst(prefix.count).prefix { $0 != "." }) { top = max(top, i) }
        }
        return top + 1
    }
}

/// Sizes derived from a checkpoint, each with where it came from, and the config.json entries they must agree with.
struct SizeDerivation {
    let label: String
    let json: (object: JSONObject, path: String)?
    var notes: [String] = []

    init(label: String, json: (object: JSONObject, path: String)?) {
        self.label = label
        self.json = json
    }

    func jsonInt(_ key: String) -> Int? { json?.object[key]?.intValue }
    func jsonDouble(_ key: String) -> Double? { json?.object[key]?.doubleValue }

    /// A size read from a tensor shape; config.json must agree if it lists it.
    mutating func fromShape(_ name: String, _ value: Int, jsonKey: String?, source: String) throws -> Int {
        if let jsonKey, let j = jsonInt(jsonKey), j != value {
            throw TrainingError("\(label): \(json!.path) says \(jsonKey) = \(j), but \(source) gives \(value)")
        }
        notes.append("\(name) \(value) (\(source))")
        return value
    }

    /// A size no tensor shape determines: config.json, else the recipe's value, said so.
    mutating func fromConfig(_ name: String, jsonKey: String, recipe: Int) -> Int {
        if let j = jsonInt(jsonKey) {
            notes.append("\(name) \(j) (\(jsonKey) in config.json)")
            return j
        }
        notes.append("\(name) \(recipe) (kept from the recipe: no \(jsonKey) in a config.json)")
        return recipe
    }

    func summary() -> String { "\(label): " + notes.joined(separator: ", ") }
}

extension SafetensorsCheckpoint {
    func shape(_ name: String, label: String) throws -> [Int] {
        do { return try info(name).shape } catch { throw TrainingError("\(label): the checkpoint has no '\(name)'") }
    }
}
