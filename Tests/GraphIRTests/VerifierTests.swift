import Testing
@testable import GraphIR

/// Hand-corrupted graphs: each must be rejected with a message naming the node, op, scope and the problem.
@Suite struct VerifierTests {
    /// x: f32[2, 3], w: f32[4, 3] (trainable), y = matmul(x, w^T) in scope "fc", output "y".
    func base() throws -> (Graph, x: Value, w: Value, y: Value) {
        let g = Graph(name: "base")
        let x = try g.input("x", [2, 3])
        let w = try g.parameter("w", [4, 3])
        let y = try g.scope("fc") { try g.matmul(x, w, transposeB: true) }
        g.output("y", y)
        return (g, x, w, y)
    }

    func expectVerifyError(_ g: Graph, _ fragments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        do {
            try Verifier.verify(g)
            Issue.record("verified a corrupted graph", sourceLocation: sourceLocation)
        } catch let e as GraphError {
            #expect(e.kind == .verify, sourceLocation: sourceLocation)
            for f in fragments { #expect(e.message.contains(f), "'\(f)' not in: \(e.message)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsTheBase() throws {
        try Verifier.verify(try base().0)
    }

    @Test func operandDefinedAfterUse() throws {
        let (g, x, _, _) = try base()
        let h = try g.relu(x)
        g.nodes[h.id].operands = [Value(h.id + 1)]
        _ = try g.relu(x)
        expectVerifyError(g, ["%\(h.id) = relu", "operand %\(h.id + 1) is defined at or after its use"])
    }

    @Test func selfReferenceIsACycle() throws {
        let (g, x, _, _) = try base()
        let h = try g.relu(x)
        g.nodes[h.id].operands = [h]
        expectVerifyError(g, ["%\(h.id) = relu", "operand %\(h.id) is defined at or after its use"])
    }

    @Test func operandOutOfGraph() throws {
        let (g, _, _, y) = try base()
        g.nodes[y.id].operands[1] = Value(99)
        expectVerifyError(g, ["%\(y.id) = matmul in scope 'fc'", "operand %99 is not a value of this graph"])
    }

    @Test func wrongType() throws {
        let (g, _, _, y) = try base()
        g.nodes[y.id].type = TensorType(.f32, [2, 3])
        expectVerifyError(g, ["%\(y.id) = matmul in scope 'fc'", "VerifierTests.swift:", "type is f32[2, 3] but the op's rule gives f32[2, 4]"])
    }

    @Test func wrongArity() throws {
        let (g, x, _, y) = try base()
        g.nodes[y.id].operands.append(x)
        expectVerifyError(g, ["%\(y.id) = matmul", "takes 2...2 operands, has 3"])
    }

    @Test func badAttributes() throws {
        let (g, _, _, y) = try base()
        g.nodes[y.id].attributes["transpose_c"] = .bool(true)
        expectVerifyError(g, ["%\(y.id) = matmul", "unknown attribute 'transpose_c'"])
        g.nodes[y.id].attributes = ["transpose_b": .int(1)]
        expectVerifyError(g, ["attribute 'transpose_b' has the wrong kind"])
        let (g2, x2, _, _) = try base()
        let s = try g2.reduceSum(x2, axes: [0])
        g2.nodes[s.id].attributes = [:]
        expectVerifyError(g2, ["%\(s.id) = reduce_sum", "missing attribute 'axes'"])
        g2.nodes[s.id].attributes = ["axes": .ints([Int.max, 2])]
        expectVerifyError(g2, ["attribute 'axes'", "exceeds 2^53"])
    }

    @Test func badShapes() throws {
        let (g, x, _, _) = try base()
        g.nodes[x.id].type = TensorType(.f32, [2, -3])
        expectVerifyError(g, ["%\(x.id) = input", "negative dimension -3"])
    }

    @Test func badUpdates() throws {
        let (g, x, w, _) = try base()
        g.update("w", x)
        expectVerifyError(g, ["update of 'w'", "parameter %\(w.id) is f32[4, 3] but %\(x.id) is f32[2, 3]"])
        g.updates = [("nope", w)]
        expectVerifyError(g, ["update of 'nope'", "no parameter has that name"])
        g.updates = [("w", Value(42))]
        expectVerifyError(g, ["update of 'w'", "%42 is not a value of this graph"])
        g.updates = [("w", w), ("w", w)]
        expectVerifyError(g, ["update of 'w'", "updated twice"])
    }

    @Test func badOutputs() throws {
        let (g, _, _, _) = try base()
        g.outputs.append(("z", Value(-1)))
        expectVerifyError(g, ["output 'z'", "%-1 is not a value of this graph"])
        g.outputs = [("y", Value(0)), ("y", Value(1))]
        expectVerifyError(g, ["output 'y' is named twice"])
    }

    @Test func duplicateLeafNames() throws {
        let (g, _, w, _) = try base()
        let w2 = g.append(g[w])
        expectVerifyError(g, ["%\(w2.id) = parameter", "parameter name 'w' is already used by %\(w.id)"])
        let (g2, x, _, _) = try base()
        var copy = g2[x]
        copy.scope = "enc"
        let x2 = g2.append(copy)
        expectVerifyError(g2, ["%\(x2.id) = input in scope 'enc'", "input name 'x' is already used by %\(x.id)"])
    }

    @Test func invalidOperandTypes() throws {
        let (g, x, _, y) = try base()
        g.nodes[y.id].operands = [x, x]
        g.nodes[y.id].attributes = [:]
        expectVerifyError(g, ["%\(y.id) = matmul", "contraction sizes differ", "operands: f32[2, 3], f32[2, 3]"])
    }
}
