import GraphIR
import GraphIO

/// A JSON value with ordered object keys, so output is deterministic and diffable.
indirect enum JSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool { a.text(indent: nil) == b.text(indent: nil) }

    /// Serialized text; `indent` nil gives one line. Non-finite numbers (JSON has none) become strings.
    func text(indent: Int? = 2, depth: Int = 0) -> String {
        let nl = indent == nil ? "" : "\n"
        let pad = { (d: Int) in String(repeating: " ", count: (indent ?? 0) * d) }
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .number(let x):
            if x.isNaN { return "\"nan\"" }
            if x.isInfinite { return x > 0 ? "\"inf\"" : "\"-inf\"" }
            return x == x.rounded() && Swift.abs(x) < 1e15 ? String(Int(x)) + ".0" : String(x)
        case .string(let s): return jsonQuoted(s)
        case .array(let xs):
            if xs.isEmpty { return "[]" }
            // Arrays of scalars stay on one line (shapes, operand lists).
            if xs.allSatisfy(\.isScalar) { return "[" + xs.map { $0.text(indent: nil) }.joined(separator: ", ") + "]" }
            return "[" + nl + xs.map { pad(depth + 1) + $0.text(indent: indent, depth: depth + 1) }.joined(separator: "," + nl) + nl + pad(depth) + "]"
        case .object(let kv):
            if kv.isEmpty { return "{}" }
            // Small records of scalars stay on one line (types, op counts).
            if kv.allSatisfy({ $0.1.isScalar || ($0.1.isFlatArray) }) && kv.count <= 4 {
                return "{" + kv.map { jsonQuoted($0.0) + ": " + $0.1.text(indent: nil) }.joined(separator: ", ") + "}"
            }
            return "{" + nl + kv.map { pad(depth + 1) + jsonQuoted($0.0) + ": " + $0.1.text(indent: indent, depth: depth + 1) }
                .joined(separator: "," + nl) + nl + pad(depth) + "}"
        }
    }

    var isFlatArray: Bool {
        if case .array(let xs) = self { return xs.allSatisfy(\.isScalar) }
        return false
    }

    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }
}

/// The graph as JSON: every node with its op, operands, type, attributes, scope and location; the named
/// outputs and the parameter updates. Attribute values keep their kind (`{"mask": {"pattern": "causal"}}`).
public enum JSONExporter {
    public static func export(_ g: Graph) -> String { graphJSON(g).text() + "\n" }

    static func graphJSON(_ g: Graph) -> JSON {
        .object([
            ("name", .string(g.name)),
            ("nodes", .array(g.nodes.enumerated().map { nodeJSON($0.offset, $0.element) })),
            ("outputs", .array(g.outputs.map { .object([("name", .string($0.name)), ("value", .int($0.value.id))]) })),
            ("updates", .array(g.updates.map { .object([("parameter", .string($0.parameter)), ("value", .int($0.value.id))]) })),
        ])
    }

    /// `graphc dump --stats --format json`.
    public static func export(_ s: DumpStats, graphName: String) -> String {
        let ops: [JSON] = s.ops.map {
            .object([("op", .string($0.op.mnemonic)), ("count", .int($0.count)), ("flops", .int($0.flops))])
        }
        let params: [JSON] = s.parameters.map {
            .object([("role", .string($0.role.rawValue)), ("tensors", .int($0.tensors)),
                     ("elements", .int($0.elements)), ("bytes", .int($0.bytes))])
        }
        return JSON.object([("graph", .string(graphName)), ("nodes", .int(s.nodeCount)), ("flops", .int(s.totalFlops)),
                            ("ops", .array(ops)), ("parameters", .array(params))]).text() + "\n"
    }

    static func typeJSON(_ t: TensorType) -> JSON {
        .object([("dtype", .string(t.dtype.rawValue)), ("shape", .array(t.shape.map { .int($0) }))])
    }

    static func nodeJSON(_ id: Int, _ n: Node) -> JSON {
        var fields: [(String, JSON)] = [
            ("id", .int(id)),
            ("op", .string(n.op.mnemonic)),
            ("operands", .array(n.operands.map { .int($0.id) })),
            ("type", typeJSON(n.type)),
            ("attributes", attributesJSON(n.attributes)),
            ("scope", .string(n.scope)),
        ]
        if n.location != .unknown { fields.append(("location", .string(n.location.description))) }
        if !n.notes.isEmpty { fields.append(("notes", attributesJSON(n.notes))) }
        return .object(fields)
    }

    static func attributesJSON(_ a: Attributes) -> JSON {
        .object(a.keys.sorted().map { ($0, attributeJSON(a[$0]!)) })
    }

    static func attributeJSON(_ v: AttrValue) -> JSON {
        switch v {
        case .int(let i): return .int(i)
        case .float(let x): return .number(x)
        case .bool(let b): return .bool(b)
        case .ints(let xs): return .array(xs.map { .int($0) })
        case .floats(let xs): return .array(xs.map { .number($0) })
        case .string(let s): return .string(s)
        case .symbol(let s): return .string(s)
        case .dtype(let d): return .string(d.rawValue)
        case .mask(let m): return maskJSON(m)
        case .initializer(let i): return initializerJSON(i)
        }
    }

    static func maskJSON(_ m: AttentionMask) -> JSON {
        var fields: [(String, JSON)]
        switch m.pattern {
        case .none: fields = [("pattern", .string("none"))]
        case .causal: fields = [("pattern", .string("causal"))]
        case .prefixCausal(let n): fields = [("pattern", .string("prefix_causal")), ("prefix", .int(n))]
        case .block(let sizes): fields = [("pattern", .string("block")), ("sizes", .array(sizes.map { .int($0) }))]
        }
        fields.append(("key_padding", .bool(m.keyPadding)))
        return .object(fields)
    }

    static func initializerJSON(_ i: Initializer) -> JSON {
        switch i {
        case .zeros: return .object([("kind", .string("zeros"))])
        case .ones: return .object([("kind", .string("ones"))])
        case .constant(let c): return .object([("kind", .string("constant")), ("value", .number(c))])
        case .normal(let s): return .object([("kind", .string("normal")), ("std", .number(s))])
        case .truncatedNormal(let s): return .object([("kind", .string("truncated_normal")), ("std", .number(s))])
        case .uniform(let lo, let hi): return .object([("kind", .string("uniform")), ("low", .number(lo)), ("high", .number(hi))])
        }
    }
}
