import GraphIO
import GraphIR

/// Reads the values of a graph's parameters from a Hugging Face checkpoint.
///
/// Graph parameters carry the checkpoint names (the BLIP-2 builders name them that way), so the mapping is the
/// identity except for tied weights: a parameter absent from the file takes its tie source's tensor (the FlanT5
/// `lm_head` written by transformers 5.x, T5's `embed_tokens`), and a tied copy present in the file that the
/// graph does not hold separately (OPT's `lm_head`) must equal its source, since the graph uses the source.
public struct HFWeights {
    public let checkpoint: SafetensorsCheckpoint
    public let layout: HFCheckpointLayout
    /// The load report of the file against the layout (already checked clean by `init`).
    public let report: HFLoadReport

    /// Opens the checkpoint of a model folder and checks its keys and shapes; a mismatch throws the report.
    public init(folder: String, layout: HFCheckpointLayout) throws {
        checkpoint = try SafetensorsCheckpoint(path: folder)
        self.layout = layout
        var found: [String: [Int]] = [:]
        for name in checkpoint.names { found[name] = try checkpoint.info(name).shape }
        report = layout.check(found: found)
        guard report.isClean else { throw GraphIOError(.safetensors, "\(folder): \(report)") }
    }

    /// The checkpoint key that holds the value of graph parameter `name`.
    public func sourceKey(for name: String) throws -> String {
        if checkpoint.names.contains(name) { return name }
        if let source = layout[name]?.tiedTo, checkpoint.names.contains(source) { return source }
        throw GraphIOError(.safetensors, "graph parameter '\(name)' has no tensor in the checkpoint (and no tied source)")
    }

    /// Calls `sink` with every parameter of `graph` as f32 values in PyTorch (row-major) order. Checks each
    /// shape against the graph and that every checkpoint tensor is used by the graph or is a tied copy of one.
    public func load(into graph: Graph, _ sink: (_ name: String, _ shape: [Int], _ values: UnsafeBufferPointer<Float>) throws -> Void) throws {
        var used: Set<String> = []
        for parameter in graph.parameters {
            let key = try sourceKey(for: parameter.name)
            let shape = graph.type(of: parameter.value).shape
            let stored = try checkpoint.info(key).shape
            guard stored == shape else {
                throw GraphIOError(.safetensors, "size mismatch for \(parameter.name): the checkpoint tensor \(key) has shape \(stored), the graph parameter \(shape)")
            }
            try checkpoint.withFloats(key) { try sink(parameter.name, shape, $0) }
            used.insert(key)
        }
        for key in checkpoint.names where !used.contains(key) && !layout.ignoredUnexpected.contains(key) {
            guard let source = layout[key]?.tiedTo, used.contains(source) else {
                throw GraphIOError(.safetensors, "checkpoint tensor '\(key)' is not used by the graph '\(graph.name)'")
            }
            let equal = try checkpoint.withFloats(key) { copy in
                try checkpoint.withFloats(source) { original in copy.elementsEqual(original) }
            }
            guard equal else {
                throw GraphIOError(.safetensors, "'\(key)' differs from '\(source)', but graphc ties them (the graph reads '\(source)')")
            }
        }
    }

    /// Every parameter of `graph` as host tensors (for the reference interpreter; 8 bytes per value).
    public func tensors(for graph: Graph) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        try load(into: graph) { name, shape, values in out[name] = Tensor(floats: Array(values), shape: shape) }
        return out
    }
}
