/// An SSA value: the result of the node with the same index in its graph.
public struct Value: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let id: Int
    public init(_ id: Int) { self.id = id }
    public static func < (a: Value, b: Value) -> Bool { a.id < b.id }
    public var description: String { "%\(id)" }
}

/// One operation; every op has exactly one result, whose type is `type`.
public struct Node: Hashable, Sendable {
    public var op: OpKind
    public var operands: [Value]
    public var attributes: Attributes
    public var type: TensorType
    /// Dotted model scope, e.g. `qformer.layer.3.crossattention`.
    public var scope: String
    public var location: SourceLocation
    /// Annotations added by transforms (e.g. autodiff's `grad = input_only`, `saved = true`); printed after `note`.
    public var notes: Attributes

    public init(op: OpKind, operands: [Value], attributes: Attributes = [:], type: TensorType,
                scope: String = "", location: SourceLocation = .unknown, notes: Attributes = [:]) {
        self.op = op
        self.operands = operands
        self.attributes = attributes
        self.type = type
        self.scope = scope
        self.location = location
        self.notes = notes
    }

    /// The `name` attribute of inputs and parameters.
    public var name: String? { attributes.string("name") }
    public var role: ParameterRole? { attributes.symbol("role").flatMap(ParameterRole.init(rawValue:)) }
}

/// A graph: nodes in SSA order (operands always precede their users), named outputs, and the updates a step
/// writes back into persistent parameters (optimizer steps).
public final class Graph: @unchecked Sendable {
    public var name: String
    public internal(set) var nodes: [Node] = []
    public var outputs: [(name: String, value: Value)] = []
    public var updates: [(parameter: String, value: Value)] = []
    var scopeStack: [String] = []
    /// Counter for the `salt` of random ops, so each dropout site draws independent numbers.
    var nextSalt = 0

    public init(name: String = "main") { self.name = name }

    public subscript(_ v: Value) -> Node { nodes[v.id] }
    public func type(of v: Value) -> TensorType { nodes[v.id].type }
    public var values: [Value] { nodes.indices.map(Value.init) }

    /// The current dotted scope.
    public var currentScope: String { scopeStack.joined(separator: ".") }

    /// Runs `body` with `name` pushed on the scope stack; nodes built inside carry the dotted scope.
    public func scope<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        scopeStack.append(name)
        defer { scopeStack.removeLast() }
        return try body()
    }

    /// Appends a node without checks (used by the parser, transforms and the checked builder).
    @discardableResult
    public func append(_ node: Node) -> Value {
        nodes.append(node)
        if node.op == .randomUniform || node.op == .sampleCategorical, let s = node.attributes.int("salt") {
            nextSalt = max(nextSalt, s + 1)
        }
        return Value(nodes.count - 1)
    }

    /// Replaces the annotations of a node (transforms use this to mark saved values and gradient kinds).
    public func setNotes(_ v: Value, _ notes: Attributes) { nodes[v.id].notes = notes }

    public func output(_ name: String) -> Value? { outputs.first { $0.name == name }?.value }

    /// Parameter nodes by name.
    public var parameters: [(name: String, value: Value, role: ParameterRole)] {
        nodes.indices.compactMap { i in
            let n = nodes[i]
            guard n.op == .parameter, let name = n.name, let role = n.role else { return nil }
            return (name, Value(i), role)
        }
    }

    public var inputs: [(name: String, value: Value)] {
        nodes.indices.compactMap { i in
            nodes[i].op == .input ? (nodes[i].name ?? "", Value(i)) : nil
        }
    }

    /// Number of uses of every value (operands, outputs and updates).
    public func useCounts() -> [Int] {
        var uses = [Int](repeating: 0, count: nodes.count)
        for n in nodes { for o in n.operands { uses[o.id] += 1 } }
        for o in outputs { uses[o.value.id] += 1 }
        for u in updates { uses[u.value.id] += 1 }
        return uses
    }

    /// A deep copy (graphs are reference types; passes return new graphs).
    public func copy() -> Graph {
        let g = Graph(name: name)
        g.nodes = nodes
        g.outputs = outputs
        g.updates = updates
        g.nextSalt = nextSalt
        return g
    }
}
