import GraphIR

/// Graphviz DOT for a graph: one box per node, scopes as nested `subgraph cluster_…`, parameters coloured by
/// role (trainable green, frozen blue, state grey), inputs yellow, named outputs and updates as ovals.
/// Renders with `dot -Tsvg`.
public enum DotExporter {
    public static func colour(of role: ParameterRole) -> String {
        switch role {
        case .trainable: return "#b6e3a8"
        case .frozen: return "#a9c8ec"
        case .state: return "#d9d9d9"
        }
    }
    static let inputColour = "#ffe39a"

    public static func export(_ g: Graph) -> String {
        var out = ["digraph \(quote(g.name)) {",
                   "  rankdir=TB;",
                   "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=10];",
                   "  edge [color=\"#555555\"];"]
        let tree = ScopeTree(g)
        var clusterCounter = 0
        func emit(_ scope: String, depth: Int) {
            let indent = String(repeating: "  ", count: depth + 1)
            for id in tree.nodes[scope] ?? [] { out.append(indent + nodeLine(g, id)) }
            for child in tree.children[scope] ?? [] {
                clusterCounter += 1
                out.append(indent + "subgraph cluster_\(clusterCounter) {")
                out.append(indent + "  label=\(quote(child));")
                out.append(indent + "  style=rounded; color=\"#888888\"; fontname=\"Helvetica\"; fontsize=11;")
                emit(child, depth: depth + 1)
                out.append(indent + "}")
            }
        }
        emit("", depth: 0)
        for (i, n) in g.nodes.enumerated() {
            for o in n.operands { out.append("  n\(o.id) -> n\(i);") }
        }
        for (k, o) in g.outputs.enumerated() {
            out.append("  out\(k) [shape=oval, style=filled, fillcolor=\"#f4b6b6\", label=\(quote("output " + o.name))];")
            out.append("  n\(o.value.id) -> out\(k);")
        }
        for (k, u) in g.updates.enumerated() {
            out.append("  upd\(k) [shape=oval, style=filled, fillcolor=\"#e2c6f0\", label=\(quote("update " + u.parameter))];")
            out.append("  n\(u.value.id) -> upd\(k) [style=dashed];")
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    private static func nodeLine(_ g: Graph, _ id: Int) -> String {
        let n = g.nodes[id]
        var label = "%\(id) = \(n.op.mnemonic)"
        if let name = n.name { label += " \"\(name)\"" }
        if let role = n.role { label += " (\(role.rawValue))" }
        label += "\n\(n.type)"
        var fill = "white"
        if let role = n.role { fill = colour(of: role) } else if n.op == .input { fill = inputColour }
        var tooltip = n.scope.isEmpty ? "" : n.scope
        if n.location != .unknown { tooltip += (tooltip.isEmpty ? "" : " ") + n.location.description }
        return "n\(id) [label=\(quote(label)), fillcolor=\(quote(fill))\(tooltip.isEmpty ? "" : ", tooltip=\(quote(tooltip))")];"
    }

    /// A DOT string literal (escapes quotes and backslashes; newlines become `\n` line breaks).
    static func quote(_ s: String) -> String {
        var r = "\""
        for ch in s {
            switch ch {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            default: r.append(ch)
            }
        }
        return r + "\""
    }
}

/// Nodes grouped by their exact scope, and each scope's direct child scopes (every dotted prefix is a scope).
struct ScopeTree {
    var nodes: [String: [Int]] = [:]
    var children: [String: [String]] = [:]

    init(_ g: Graph) {
        var known: Set<String> = [""]
        for (i, n) in g.nodes.enumerated() {
            var parent = ""
            var path = ""
            for part in n.scope.split(separator: ".", omittingEmptySubsequences: true) {
                path = path.isEmpty ? String(part) : path + "." + part
                if known.insert(path).inserted { children[parent, default: []].append(path) }
                parent = path
            }
            // Filed under the normalized path, so a scope like `a..b` still lands in a cluster that is emitted.
            nodes[path, default: []].append(i)
        }
    }
}
