// Structural checks of a graph built or rewritten in code (the parser already checks all of this for text).
// Passes run it after every rewrite in tests, so its errors name the node, op, scope and model source line.

/// Checks a graph's invariants.
public enum Verifier {
    /// Throws `GraphError(.verify, ...)` at the first violation of: operands defined before use (SSA order, which
    /// also rules out cycles), arity, attribute schema, result type equal to the op's inferred type, sane shapes,
    /// outputs and updates naming valid values, updates writing existing parameters of the same type, and unique
    /// parameter and input names.
    public static func verify(_ g: Graph) throws {
        var parameterNames: [String: Int] = [:]
        var inputNames: [String: Int] = [:]
        for (i, node) in g.nodes.enumerated() {
            func fail(_ why: String) -> GraphError {
                let scope = node.scope.isEmpty ? "" : " in scope '\(node.scope)'"
                return GraphError(.verify, "%\(i) = \(node.op.mnemonic)\(scope) (\(node.location)): \(why)")
            }
            for v in node.operands where v.id < 0 || v.id >= i {
                throw fail(v.id >= i && v.id < g.nodes.count
                           ? "operand \(v) is defined at or after its use (values must precede their users)"
                           : "operand \(v) is not a value of this graph")
            }
            let spec = node.op.spec
            guard spec.arity.contains(node.operands.count) else {
                throw fail("takes \(spec.arity.upperBound == Int.max ? "at least \(spec.arity.lowerBound)" : "\(spec.arity)") operands, has \(node.operands.count)")
            }
            if let why = shapeProblem(node.type) { throw fail("result type \(node.type): \(why)") }
            if let why = attributeMagnitudeProblem(node) { throw fail(why) }
            let operandTypes = node.operands.map { g.type(of: $0) }
            do {
                try validateAttributes(node.op, node.attributes)
                let inferred = try spec.inferType(InferContext(operands: operandTypes, attributes: node.attributes, declared: node.type))
                if inferred != node.type {
                    throw ShapeError("type is \(node.type) but the op's rule gives \(inferred)")
                }
            } catch let e as ShapeError {
                let types = operandTypes.isEmpty ? "" : " (operands: \(operandTypes.map(\.description).joined(separator: ", ")))"
                throw fail(e.message + types)
            }
            if node.op == .parameter || node.op == .input, let name = node.name {
                if let previous = node.op == .parameter ? parameterNames[name] : inputNames[name] {
                    throw fail("\(node.op.mnemonic) name '\(name)' is already used by %\(previous)")
                }
                if node.op == .parameter { parameterNames[name] = i } else { inputNames[name] = i }
            }
        }
        var outputNames: Set<String> = []
        for o in g.outputs {
            guard o.value.id >= 0 && o.value.id < g.nodes.count else {
                throw GraphError(.verify, "output '\(o.name)': \(o.value) is not a value of this graph")
            }
            guard outputNames.insert(o.name).inserted else { throw GraphError(.verify, "output '\(o.name)' is named twice") }
        }
        var updated: Set<String> = []
        for u in g.updates {
            guard u.value.id >= 0 && u.value.id < g.nodes.count else {
                throw GraphError(.verify, "update of '\(u.parameter)': \(u.value) is not a value of this graph")
            }
            guard let p = parameterNames[u.parameter] else {
                throw GraphError(.verify, "update of '\(u.parameter)': no parameter has that name")
            }
            guard g.nodes[p].type == g.nodes[u.value.id].type else {
                throw GraphError(.verify, "update of '\(u.parameter)': parameter %\(p) is \(g.nodes[p].type) but \(u.value) is \(g.nodes[u.value.id].type)")
            }
            guard updated.insert(u.parameter).inserted else {
                throw GraphError(.verify, "update of '\(u.parameter)': the parameter is updated twice")
            }
        }
    }

    /// Negative dimensions or an element count past 2^53 (the shape rules and byte counts would overflow).
    static func shapeProblem(_ t: TensorType) -> String? {
        var count = 1
        for d in t.shape {
            if d < 0 { return "negative dimension \(d)" }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow || p > attributeIntLimit { return "more than 2^53 elements" }
            count = p
        }
        return nil
    }

    /// Integer attributes past the text format's limit could overflow the shape rules' arithmetic.
    static func attributeMagnitudeProblem(_ node: Node) -> String? {
        for (key, value) in node.attributes {
            let ints: [Int]
            switch value {
            case .int(let i): ints = [i]
            case .ints(let xs): ints = xs
            case .mask(let m):
                switch m.pattern {
                case .prefixCausal(let n): ints = [n]
                case .block(let sizes): ints = sizes
                default: ints = []
                }
            default: ints = []
            }
            var product = 1, sum = 0
            for i in ints {
                if i.magnitude > attributeIntLimit { return "attribute '\(key)': \(i) exceeds 2^53 in magnitude" }
                let (p, o1) = product.multipliedReportingOverflow(by: max(1, Int(i.magnitude)))
                let (s, o2) = sum.addingReportingOverflow(i)
                if o1 || o2 { return "attribute '\(key)': \(ints) overflows 64-bit arithmetic" }
                (product, sum) = (p, s)
            }
        }
        return nil
    }
}
