import GraphIR

// Shared machinery of the passes: every pass copies the nodes it keeps into a fresh graph, remapping operands,
// so the input graph is never mutated (passes are pure functions Graph -> Graph).

/// Copies nodes of `source` into a new graph, remapping operands; the building block of every pass.
final class GraphRewriter {
    let source: Graph
    let result: Graph
    /// The new value of each old value (nil until copied).
    var map: [Value?]

    init(_ source: Graph) {
        self.source = source
        self.result = Graph(name: source.name)
        self.map = [Value?](repeating: nil, count: source.nodes.count)
    }

    /// `node` with its operands remapped into the new graph.
    func remapped(_ node: Node) -> Node {
        var n = node
        n.operands = node.operands.map { mapped($0) }
        return n
    }

    func mapped(_ v: Value) -> Value {
        guard let m = map[v.id] else { preconditionFailure("pass bug: \(v) used before it was copied") }
        return m
    }

    /// Appends `node` (operands already in the new graph).
    @discardableResult
    func append(_ node: Node) -> Value { result.append(node) }

    /// Appends a node of `op` with a type from the op's rule, keeping the scope and location of `like`.
    @discardableResult
    func emit(_ op: OpKind, _ operands: [Value], _ attributes: Attributes = [:], like: Node) throws -> Value {
        let t = try inferType(op, operands.map { result.type(of: $0) }, attributes, declared: like.type)
        return append(Node(op: op, operands: operands, attributes: attributes, type: t, scope: like.scope, location: like.location))
    }

    /// Copies outputs and updates through the map and returns the new graph.
    func finish() -> Graph {
        result.outputs = source.outputs.map { ($0.name, mapped($0.value)) }
        result.updates = source.updates.map { ($0.parameter, mapped($0.value)) }
        return result
    }
}

/// The result type of `op` on operands of these types, via the op's single definition.
func inferType(_ op: OpKind, _ operands: [TensorType], _ attributes: Attributes, declared: TensorType? = nil) throws -> TensorType {
    do {
        return try op.spec.inferType(InferContext(operands: operands, attributes: attributes, declared: op.spec.declaresType ? declared : nil))
    } catch let e as ShapeError {
        throw GraphError(.build, "\(op.mnemonic): \(e.message) (operands: \(operands.map(\.description).joined(separator: ", ")))")
    }
}

extension Node {
    /// A constant whose elements all have one value, and that value.
    var splatValue: Double? {
        guard op == .constant, let v = attributes.floats("value"), let first = v.first else { return nil }
        let rounded = Tensor(type.dtype, [], [first]).scalar
        return v.allSatisfy({ Tensor(type.dtype, [], [$0]).scalar == rounded }) ? rounded : nil
    }

    var isLeaf: Bool { op.spec.fusion == .leaf }
}

/// A splat constant node of type `t`.
func splatConstant(_ value: Double, _ t: TensorType, like: Node) -> Node {
    Node(op: .constant, operands: [], attributes: ["value": .floats([value])], type: t, scope: like.scope, location: like.location)
}

/// A constant node holding `t` (a splat when all elements are equal).
func constantNode(_ t: Tensor, like: Node) -> Node {
    if let first = t.scalars.first, t.scalars.allSatisfy({ $0 == first }) { return splatConstant(first, t.type, like: like) }
    return Node(op: .constant, operands: [], attributes: ["value": .floats(t.scalars)], type: t.type, scope: like.scope, location: like.location)
}
