import GraphIR

/// Parameter counts of a built graph by BLIP-2 component and role, read from the parameter shapes alone (no
/// weights are allocated). Components follow the spec's §1.3 tables.
public struct ParameterReport: Sendable {
    public struct Row: Sendable, Equatable {
        public var component: String
        public var role: ParameterRole
        public var tensors: Int
        public var count: Int
    }

    public private(set) var rows: [Row] = []

    /// The component a parameter name belongs to.
    public static func component(of name: String) -> String {
        if name.hasPrefix("vision_model.post_layernorm.") { return "post_layernorm" }
        if name.hasPrefix("vision_model.") { return "vision encoder" }
        if name == "query_tokens" { return "query_tokens" }
        if name.hasPrefix("qformer.layernorm.") { return "qformer embedding LayerNorm" }
        if name.hasPrefix("qformer.") {
            if name.contains(".crossattention.") { return "qformer cross-attention" }
            if name.contains(".attention.") { return "qformer self-attention" }
            if name.contains("_query.") { return "qformer query FFN" }
            return "qformer text FFN"
        }
        if name.hasPrefix("embeddings.") { return "qformer text embeddings" }
        if name.hasPrefix("cls.") { return "qformer LM head" }
        if ["vision_projection.", "text_projection.", "itm_head."].contains(where: name.hasPrefix) || name == "temp" {
            return "ITC/ITM heads"
        }
        if name.hasPrefix("language_projection.") { return "language_projection" }
        if name.hasPrefix("language_model.") { return "LLM" }
        return "other"
    }

    public init(_ g: Graph) {
        var index: [String: Int] = [:]
        for p in g.parameters {
            let c = ParameterReport.component(of: p.name)
            let n = g.type(of: p.value).count
            if let i = index[c] {
                rows[i].tensors += 1
                rows[i].count += n
            } else {
                index[c] = rows.count
                rows.append(Row(component: c, role: p.role, tensors: 1, count: n))
            }
        }
    }

    public func count(_ component: String) -> Int { rows.filter { $0.component == component }.map(\.count).reduce(0, +) }
    public func total(role: ParameterRole? = nil) -> Int { rows.filter { role == nil || $0.role == role }.map(\.count).reduce(0, +) }

    /// Paper Table 2's "Q-Former + queries": `query_tokens` and every `qformer.*` tensor (self- and
    /// cross-attention, query and text FFNs, embedding LayerNorm); not the text embeddings, LM head or heads.
    public var qformerWithQueries: Int { rows.filter { $0.component.hasPrefix("qformer ") && !["qformer text embeddings", "qformer LM head"].contains($0.component) || $0.component == "query_tokens" }.map(\.count).reduce(0, +) }

    /// A fixed-width table, one component per line, then totals by role.
    public var table: String {
        var lines = rows.map { r in
            "\(r.component.padding(to: 30))\(r.role.rawValue.padding(to: 11))\(String(r.tensors).leftPadding(to: 6))\(grouped(r.count).leftPadding(to: 16))"
        }
        if qformerWithQueries > 0 {
            lines.append("Q-Former + queries (Table 2)".padding(to: 47) + grouped(qformerWithQueries).leftPadding(to: 16))
        }
        if count("language_projection") > 0 {
            lines.append("  + language_projection".padding(to: 47) + grouped(qformerWithQueries + count("language_projection")).leftPadding(to: 16))
        }
        for role in ParameterRole.allCases where total(role: role) > 0 {
            lines.append("total \(role.rawValue)".padding(to: 47) + grouped(total(role: role)).leftPadding(to: 16))
        }
        lines.append("total".padding(to: 47) + grouped(total()).leftPadding(to: 16))
        return lines.joined(separator: "\n")
    }
}

/// 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}

extension String {
    func padding(to n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
    func leftPadding(to n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
