import GraphIR

/// A graph cut into its frozen prefix and the rest (see `splitFrozenPrefix`).
public struct FrozenPrefixSplit {
    /// Computes the boundary values from the original inputs it needs and frozen parameters; its outputs are
    /// named like the boundary.
    public var prefix: Graph
    /// The original graph with each boundary value replaced by an input of the same name.
    public var rest: Graph
    /// Names of the boundary values (prefix outputs = new inputs of `rest`), in graph order.
    public var boundary: [String]
}

/// Splits off the frozen prefix: the values that depend on inputs and frozen parameters only (at least one of
/// each; no trainable parameter, optimizer state or random op) — BLIP-2's image encoder. The prefix values read
/// by the rest of the graph (or returned by it) become the prefix's outputs and new inputs of the rest, named
/// `<scope>/%<id>` after the original node. A frozen subgraph downstream of a trainable parameter is not part of
/// the prefix and stays. Inputs and frozen parameters that only the prefix reads are dropped from the rest.
/// `inputs` restricts the prefix to values of those inputs (e.g. `["pixel_values"]`: cache the image encoder but
/// keep the frozen LLM's token embeddings of `input_ids` in the step); other inputs are then per-step values.
public func splitFrozenPrefix(_ g: Graph, inputs allowed: Set<String>? = nil) -> FrozenPrefixSplit {
    let count = g.nodes.count
    var usesInput = [Bool](repeating: false, count: count)
    var usesFrozen = [Bool](repeating: false, count: count)
    var dynamicOther = [Bool](repeating: false, count: count)
    for (i, n) in g.nodes.enumerated() {
        switch n.op {
        case .input:
            if allowed.map({ $0.contains(n.name ?? "") }) ?? true { usesInput[i] = true } else { dynamicOther[i] = true }
        case .parameter: if n.role == .frozen { usesFrozen[i] = true } else { dynamicOther[i] = true }
        default:
            usesInput[i] = n.operands.contains { usesInput[$0.id] }
            usesFrozen[i] = n.operands.contains { usesFrozen[$0.id] }
            dynamicOther[i] = n.op == .randomUniform || n.op == .sampleCategorical || n.operands.contains { dynamicOther[$0.id] }
        }
    }
    let inPrefix = (0..<count).map { usesInput[$0] && usesFrozen[$0] && !dynamicOther[$0] && !g.nodes[$0].isLeaf }
    let uses = UseInfo(g)
    let boundaryIDs = (0..<count).filter { i in
        inPrefix[i] && (uses.isResult[i] || uses.users[i].contains { !inPrefix[$0] })
    }
    let names = boundaryIDs.map { i in (g.nodes[i].scope.isEmpty ? g.nodes[i].op.mnemonic : g.nodes[i].scope) + "/%\(i)" }

    let prefix = Graph(name: g.name + ".prefix")
    var map: [Int: Value] = [:]
    if let last = boundaryIDs.last {
        var need = [Bool](repeating: false, count: count)
        for b in boundaryIDs { need[b] = true }
        for i in stride(from: last, through: 0, by: -1) where need[i] { for o in g.nodes[i].operands { need[o.id] = true } }
        for i in 0...last where need[i] {
            var n = g.nodes[i]
            n.operands = n.operands.map { map[$0.id]! }
            map[i] = prefix.append(n)
        }
    }
    prefix.outputs = zip(names, boundaryIDs).map { ($0, map[$1]!) }

    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        if let k = boundaryIDs.firstIndex(of: i) {
            rw.map[i] = rw.append(Node(op: .input, operands: [], attributes: ["name": .string(names[k])], type: n.type,
                                       scope: n.scope, location: n.location))
        } else if !inPrefix[i] {
            // Operands are outside the prefix or on its boundary (a prefix value read here is a boundary value).
            rw.map[i] = rw.append(rw.remapped(n))
        }
    }
    let rest = removeUnusedLeaves(eliminateDeadCode(rw.finish()), keepingTrainable: true)
    return FrozenPrefixSplit(prefix: prefix, rest: rest, boundary: names)
}

/// Drops inputs and frozen parameters nothing reads (trainable parameters and state stay: the optimizer owns them).
func removeUnusedLeaves(_ g: Graph, keepingTrainable: Bool) -> Graph {
    let uses = g.useCounts()
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        let droppable = n.op == .input || (n.op == .parameter && n.role == .frozen)
        if droppable && uses[i] == 0 { continue }
        rw.map[i] = rw.append(rw.remapped(n))
    }
    return rw.finish()
}

/// Where cached prefix results live besides memory (e.g. safetensors files keyed by `key`; GraphIO provides the
/// file format, the caller wires it here so this module does not depend on I/O).
public struct PrefixCacheStorage {
    public var load: (_ key: String) throws -> [String: Tensor]?
    public var store: (_ key: String, _ tensors: [String: Tensor]) throws -> Void

    public init(load: @escaping (String) throws -> [String: Tensor]?, store: @escaping (String, [String: Tensor]) throws -> Void) {
        self.load = load
        self.store = store
    }
}

/// Runs a frozen prefix once per distinct example and caches its outputs, in memory and optionally in `storage`.
/// The key is `<inputs hash>-<weights hash>`: the hash of the prefix's input tensors, and of the prefix graph's
/// structure with the values of the frozen parameters it reads, so new weights or a changed encoder never hit stale
/// features.
public final class FrozenPrefixCache {
    public let prefix: Graph
    public let parameters: [String: Tensor]
    /// Runs the prefix (the interpreter by default; the executor in training).
    public let run: (Graph, [String: Tensor], [String: Tensor]) throws -> [String: Tensor]
    public let storage: PrefixCacheStorage?
    /// Hash of the prefix graph and the values of the parameters it reads.
    public let weightsHash: UInt64
    public private(set) var hits = 0
    public private(set) var misses = 0
    private var memory: [String: [String: Tensor]] = [:]

    public init(prefix: Graph, parameters: [String: Tensor], storage: PrefixCacheStorage? = nil,
                run: @escaping (Graph, [String: Tensor], [String: Tensor]) throws -> [String: Tensor] = { g, i, p in
                    try Interpreter().run(g, inputs: i, parameters: p)
                }) {
        self.prefix = prefix
        self.parameters = parameters
        self.storage = storage
        self.run = run
        var h = StableHasher()
        for n in prefix.nodes {
            h.add(n.op.mnemonic)
            h.add(n.type.description)
            h.add(n.attributes.keys.sorted().map { "\($0)=\(n.attributes[$0]!)" }.joined(separator: ","))
            h.add(n.operands.map(\.id))
            if n.op == .parameter, let name = n.name, let t = parameters[name] { h.add(t) }
        }
        weightsHash = h.value
    }

    /// The cache key of one example's inputs.
    public func key(for inputs: [String: Tensor]) -> String {
        var h = StableHasher()
        for (name, _) in prefix.inputs.sorted(by: { $0.name < $1.name }) {
            h.add(name)
            if let t = inputs[name] { h.add(t) }
        }
        return hex(h.value) + "-" + hex(weightsHash)
    }

    /// The prefix outputs for these inputs: from memory, else from storage, else computed (and stored).
    public func outputs(for inputs: [String: Tensor]) throws -> [String: Tensor] {
        let k = key(for: inputs)
        if let cached = memory[k] {
            hits += 1
            return cached
        }
        if let stored = try storage?.load(k) {
            hits += 1
            memory[k] = stored
            return stored
        }
        misses += 1
        let needed = Dictionary(uniqueKeysWithValues: prefix.inputs.compactMap { i in inputs[i.name].map { (i.name, $0) } })
        let out = try run(prefix, needed, parameters)
        memory[k] = out
        try storage?.store(k, out)
        return out
    }

    private func hex(_ x: UInt64) -> String {
        let s = String(x, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// FNV-1a over bytes: stable across runs and platforms (Swift's `Hasher` is seeded per process).
struct StableHasher {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x100_0000_01b3
    }
    mutating func add(_ x: UInt64) { for s in stride(from: 0, to: 64, by: 8) { add(byte: UInt8(truncatingIfNeeded: x >> UInt64(s))) } }
    mutating func add(_ s: String) {
        for b in s.utf8 { add(byte: b) }
        add(byte: 0)
    }
    mutating func add(_ xs: [Int]) { for x in xs { add(UInt64(bitPattern: Int64(x))) } }
    mutating func add(_ t: Tensor) {
        add(t.type.description)
        for x in t.scalars { add(x.bitPattern) }
    }
}
