// The text form of a graph. One generic grammar for every op (Docs/IR.md):
//   %3 = matmul(%1, %2) {transpose_b = true} : f32[4, 16] scope "fc1" note {saved = true} loc "MLP.swift:12"
// `GraphParser` reads exactly what this writes, so `print(parse(print(g))) == print(g)`.

/// Prints graphs in the IR text format.
public enum GraphPrinter {
    /// The text of `g`. Values print as `%<node index>`; attributes are sorted by key; `loc "File.swift:12"`
    /// is added when `locations` is true and the node's location is known.
    public static func print(_ g: Graph, locations: Bool = false) -> String {
        var out = "graph \(quoted(g.name)) {\n"
        for (i, node) in g.nodes.enumerated() {
            out += "  " + nodeLine(node, index: i, locations: locations) + "\n"
        }
        for o in g.outputs { out += "  output \(quoted(o.name)) = \(o.value)\n" }
        for u in g.updates { out += "  update \(quoted(u.parameter)) = \(u.value)\n" }
        out += "}\n"
        return out
    }

    /// One node, without indentation or newline: `%i = op(operands) {attrs} : type [scope ..] [note {..}] [loc ..]`.
    public static func nodeLine(_ node: Node, index: Int, locations: Bool = false) -> String {
        var s = "%\(index) = \(node.op.mnemonic)"
        if !node.operands.isEmpty { s += "(" + node.operands.map(\.description).joined(separator: ", ") + ")" }
        if !node.attributes.isEmpty { s += " " + attributeDict(node.attributes, lens: lensOperand(node)) }
        s += " : \(node.type)"
        if !node.scope.isEmpty { s += " scope \(quoted(node.scope))" }
        if !node.notes.isEmpty { s += " note " + attributeDict(node.notes, lens: nil) }
        if locations && !node.location.file.isEmpty { s += " loc \(quoted(node.location.description))" }
        return s
    }

    /// The operand a padding mask reads key lengths from: the first one after the op's required operands
    /// (attention: q, k, v, lens; attention_probs: q, k, lens). Nil when the node has no such operand.
    static func lensOperand(_ node: Node) -> Value? {
        let i = node.op.spec.arity.lowerBound
        return i < node.operands.count ? node.operands[i] : nil
    }

    /// `{a = 1, b = [2, 3]}` with keys sorted. `lens` is the operand a padding mask names.
    static func attributeDict(_ attrs: Attributes, lens: Value?) -> String {
        let items = attrs.keys.sorted().map { key in "\(printedKey(key)) = \(attribute(attrs[key]!, lens: lens))" }
        return "{" + items.joined(separator: ", ") + "}"
    }

    /// The text of one attribute value.
    public static func attribute(_ v: AttrValue, lens: Value? = nil) -> String {
        switch v {
        case .int(let i): return String(i)
        case .float(let d): return float(d)
        case .bool(let b): return b ? "true" : "false"
        case .ints(let xs): return "[" + xs.map(String.init).joined(separator: ", ") + "]"
        case .floats(let xs): return "[" + xs.map(float).joined(separator: ", ") + "]"
        case .string(let s): return quoted(s)
        case .symbol(let s): return s
        case .dtype(let d): return d.rawValue
        case .mask(let m): return mask(m, lens: lens)
        case .initializer(let i): return initializer(i)
        }
    }

    /// Shortest text that reads back to the same `Double` (`Double.description`), with `inf`, `-inf`, `nan`.
    public static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return d.description
    }

    static func mask(_ m: AttentionMask, lens: Value?) -> String {
        let pattern: String
        switch m.pattern {
        case .none: pattern = "none"
        case .causal: pattern = "causal"
        case .prefixCausal(let n): pattern = "prefix_causal(\(n))"
        case .block(let sizes): pattern = "block(" + sizes.map(String.init).joined(separator: ", ") + ")"
        }
        guard m.keyPadding else { return pattern }
        // A graph missing the lens operand prints `%?`, which the parser rejects, rather than crashing here.
        let padding = "padding(\(lens?.description ?? "%?"))"
        return m.pattern == .none ? padding : "\(pattern) & \(padding)"
    }

    static func initializer(_ i: Initializer) -> String {
        switch i {
        case .zeros: return "zeros"
        case .ones: return "ones"
        case .constant(let c): return "constant(\(float(c)))"
        case .normal(let std): return "normal(\(float(std)))"
        case .truncatedNormal(let std): return "truncated_normal(\(float(std)))"
        case .uniform(let lo, let hi): return "uniform(\(float(lo)), \(float(hi)))"
        }
    }

    /// Attribute keys print bare when they are identifiers, quoted otherwise (notes may use any key).
    static func printedKey(_ key: String) -> String {
        isIdentifier(key) ? key : quoted(key)
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || $0 == "." || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// A double-quoted string: `"` and `\` are escaped, control characters print as `\u{hex}`.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
