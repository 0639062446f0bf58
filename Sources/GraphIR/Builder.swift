// The checked builder: every call infers the result type from the op's definition and throws a
// `GraphError` naming the op, the scope, the operand types and the caller's file:line when the call is invalid.

/// Checks attributes against an op's schema: no unknown names, every required one present, kinds match.
public func validateAttributes(_ op: OpKind, _ attrs: Attributes) throws {
    let schema = op.spec.attributes
    for key in attrs.keys where !schema.contains(where: { $0.name == key }) {
        throw ShapeError("unknown attribute '\(key)' (expected \(schema.isEmpty ? "none" : schema.map(\.name).joined(separator: ", ")))")
    }
    for s in schema {
        guard let v = attrs[s.name] else {
            if s.required { throw ShapeError("missing attribute '\(s.name)'") }
            continue
        }
        let ok: Bool
        switch (s.kind, v) {
        case (.int, .int), (.bool, .bool), (.ints, .ints), (.floats, .floats), (.string, .string),
             (.dtype, .dtype), (.mask, .mask), (.initializer, .initializer): ok = true
        case (.float, .float), (.float, .int): ok = true
        case (.symbol(let allowed), .symbol(let x)): ok = allowed.contains(x)
        default: ok = false
        }
        if !ok { throw ShapeError("attribute '\(s.name)' has the wrong kind or value: \(v)") }
    }
}

extension Graph {
    /// Emits one node after checking arity, attributes and types. The single entry point of the builder.
    @discardableResult
    public func emit(_ op: OpKind, _ operands: [Value], _ attributes: Attributes = [:], type declared: TensorType? = nil,
                     file: String = #fileID, line: Int = #line) throws -> Value {
        let loc = SourceLocation(file: file, line: line)
        let spec = op.spec
        for v in operands where v.id < 0 || v.id >= nodes.count {
            throw GraphError.invalidCall(op, scope: currentScope, operands: [], location: loc, "operand \(v) is not a value of this graph")
        }
        let types = operands.map { nodes[$0.id].type }
        do {
            try check(spec.arity.contains(operands.count),
                      "takes \(spec.arity.upperBound == Int.max ? "at least \(spec.arity.lowerBound)" : spec.arity.lowerBound == spec.arity.upperBound ? "\(spec.arity.lowerBound)" : "\(spec.arity.lowerBound)...\(spec.arity.upperBound)") operands, got \(operands.count)")
            try validateAttributes(op, attributes)
            try check(!spec.declaresType || declared != nil, "needs a declared result type")
            let t = try spec.inferType(InferContext(operands: types, attributes: attributes, declared: declared))
            if let declared, !spec.declaresType, declared != t {
                throw ShapeError("declared type \(declared) but the operands give \(t)")
            }
            return append(Node(op: op, operands: operands, attributes: attributes, type: t, scope: currentScope, location: loc))
        } catch let e as ShapeError {
            throw GraphError.invalidCall(op, scope: currentScope, operands: types, location: loc, e.message)
        }
    }

    // MARK: leaves

    public func input(_ name: String, _ shape: [Int], _ dtype: DType = .f32, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.input, [], ["name": .string(name)], type: TensorType(dtype, shape), file: file, line: line)
    }

    /// A named persistent parameter. Its storage is bound at run time; `initializer` says how to make it from a seed.
    public func parameter(_ name: String, _ shape: [Int], role: ParameterRole = .trainable, initializer: Initializer? = nil,
                          _ dtype: DType = .f32, file: String = #fileID, line: Int = #line) throws -> Value {
        if parameters.contains(where: { $0.name == name }) {
            throw GraphError.invalidCall(.parameter, scope: currentScope, operands: [], location: SourceLocation(file: file, line: line),
                                         "a parameter named '\(name)' already exists")
        }
        var a: Attributes = ["name": .string(name), "role": .symbol(role.rawValue)]
        if let initializer { a["init"] = .initializer(initializer) }
        return try emit(.parameter, [], a, type: TensorType(dtype, shape), file: file, line: line)
    }

    public func constant(_ value: Double, shape: [Int] = [], _ dtype: DType = .f32, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.constant, [], ["value": .floats([value])], type: TensorType(dtype, shape), file: file, line: line)
    }

    public func constant(_ tensor: Tensor, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.constant, [], ["value": .floats(tensor.scalars)], type: tensor.type, file: file, line: line)
    }

    public func iota(_ shape: [Int], axis: Int, _ dtype: DType = .i32, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.iota, [], ["axis": .int(axis)], type: TensorType(dtype, shape), file: file, line: line)
    }

    // MARK: elementwise

    public func unary(_ op: OpKind, _ x: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(op, [x], file: file, line: line)
    }
    public func binary(_ op: OpKind, _ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(op, [a, b], file: file, line: line)
    }
    public func add(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.add, a, b, file: file, line: line) }
    public func sub(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.sub, a, b, file: file, line: line) }
    public func mul(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.mul, a, b, file: file, line: line) }
    public func div(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.div, a, b, file: file, line: line) }
    public func maximum(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.maximum, a, b, file: file, line: line) }
    public func minimum(_ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value { try binary(.minimum, a, b, file: file, line: line) }
    public func neg(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.neg, x, file: file, line: line) }
    public func exp(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.exp, x, file: file, line: line) }
    public func log(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.log, x, file: file, line: line) }
    public func sqrt(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.sqrt, x, file: file, line: line) }
    public func rsqrt(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.rsqrt, x, file: file, line: line) }
    public func tanh(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.tanh, x, file: file, line: line) }
    public func sigmoid(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.sigmoid, x, file: file, line: line) }
    public func relu(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.relu, x, file: file, line: line) }
    public func stopGradient(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value { try unary(.stopGradient, x, file: file, line: line) }

    /// `a op scalar` with the scalar as a constant of `a`'s dtype.
    public func binary(_ op: OpKind, _ a: Value, scalar: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        let c = try constant(scalar, shape: [], type(of: a).dtype, file: file, line: line)
        return try binary(op, a, c, file: file, line: line)
    }

    public func cast(_ x: Value, to dtype: DType, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.cast, [x], ["dtype": .dtype(dtype)], file: file, line: line)
    }

    public func select(_ cond: Value, _ a: Value, _ b: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.where, [cond, a, b], file: file, line: line)
    }

    // MARK: reductions

    public func reduce(_ op: OpKind, _ x: Value, axes: [Int], keepDims: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        var a: Attributes = ["axes": .ints(axes)]
        if keepDims { a["keep_dims"] = .bool(true) }
        return try emit(op, [x], a, file: file, line: line)
    }
    public func reduceSum(_ x: Value, axes: [Int], keepDims: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        try reduce(.reduceSum, x, axes: axes, keepDims: keepDims, file: file, line: line)
    }
    public func reduceMean(_ x: Value, axes: [Int], keepDims: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        try reduce(.reduceMean, x, axes: axes, keepDims: keepDims, file: file, line: line)
    }
    public func reduceMax(_ x: Value, axes: [Int], keepDims: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        try reduce(.reduceMax, x, axes: axes, keepDims: keepDims, file: file, line: line)
    }
    public func argmax(_ x: Value, axis: Int, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.argmax, [x], ["axis": .int(axis)], file: file, line: line)
    }

    // MARK: data movement

    public func reshape(_ x: Value, _ shape: [Int], file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.reshape, [x], ["shape": .ints(shape)], file: file, line: line)
    }
    public func transpose(_ x: Value, _ perm: [Int], file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.transpose, [x], ["perm": .ints(perm)], file: file, line: line)
    }
    public func broadcast(_ x: Value, to shape: [Int], file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.broadcastTo, [x], ["shape": .ints(shape)], file: file, line: line)
    }
    public func slice(_ x: Value, starts: [Int], limits: [Int], file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.slice, [x], ["starts": .ints(starts), "limits": .ints(limits)], file: file, line: line)
    }
    /// `x[..., range, ...]` along one axis.
    public func slice(_ x: Value, axis: Int, _ range: Range<Int>, file: String = #fileID, line: Int = #line) throws -> Value {
        let s = type(of: x).shape
        guard let ax = normalizeAxis(axis, rank: s.count) else {
            throw GraphError.invalidCall(.slice, scope: currentScope, operands: [type(of: x)], location: SourceLocation(file: file, line: line), "axis \(axis) out of range")
        }
        var starts = [Int](repeating: 0, count: s.count), limits = s
        starts[ax] = range.lowerBound
        limits[ax] = range.upperBound
        return try slice(x, starts: starts, limits: limits, file: file, line: line)
    }
    public func pad(_ x: Value, low: [Int], high: [Int], file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.pad, [x], ["low": .ints(low), "high": .ints(high)], file: file, line: line)
    }
    public func concat(_ xs: [Value], axis: Int, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.concat, xs, ["axis": .int(axis)], file: file, line: line)
    }
    public func gather(_ table: Value, _ indices: Value, axis: Int = 0, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.gather, [table, indices], ["axis": .int(axis)], file: file, line: line)
    }
    public func scatterAdd(_ updates: Value, _ indices: Value, axis: Int = 0, size: Int, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.scatterAdd, [updates, indices], ["axis": .int(axis), "size": .int(size)], file: file, line: line)
    }

    // MARK: linear algebra, randomness, compound ops

    public func matmul(_ a: Value, _ b: Value, transposeA: Bool = false, transposeB: Bool = false,
                       file: String = #fileID, line: Int = #line) throws -> Value {
        var at: Attributes = [:]
        if transposeA { at["transpose_a"] = .bool(true) }
        if transposeB { at["transpose_b"] = .bool(true) }
        return try emit(.matmul, [a, b], at, file: file, line: line)
    }

    /// Uniform numbers in [0, 1) from `seed` (an `i32[]` value); each call site gets a fresh salt.
    public func randomUniform(seed: Value, shape: [Int], _ dtype: DType = .f32, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.randomUniform, [seed], ["salt": .int(nextSalt)], type: TensorType(dtype, shape), file: file, line: line)
    }
    /// One index per row drawn from softmax(logits) over the last axis.
    public func sampleCategorical(logits: Value, seed: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.sampleCategorical, [logits, seed], ["salt": .int(nextSalt)], file: file, line: line)
    }

    public func softmax(_ x: Value, axis: Int = -1, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.softmax, [x], ["axis": .int(axis)], file: file, line: line)
    }
    public func logSoftmax(_ x: Value, axis: Int = -1, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.logSoftmax, [x], ["axis": .int(axis)], file: file, line: line)
    }
    public func layerNorm(_ x: Value, gamma: Value? = nil, beta: Value? = nil, eps: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.layerNorm, [x] + [gamma, beta].compactMap { $0 }, ["eps": .float(eps)], file: file, line: line)
    }
    public func rmsNorm(_ x: Value, gamma: Value? = nil, eps: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.rmsNorm, [x] + [gamma].compactMap { $0 }, ["eps": .float(eps)], file: file, line: line)
    }
    public func gelu(_ x: Value, approximate: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        try emit(.gelu, [x], approximate ? ["approximate": .symbol("tanh")] : [:], file: file, line: line)
    }
    public func crossEntropy(logits: Value, labels: Value, ignoreIndex: Int = -100, labelSmoothing: Double = 0,
                             file: String = #fileID, line: Int = #line) throws -> Value {
        var a: Attributes = ["ignore_index": .int(ignoreIndex)]
        if labelSmoothing != 0 { a["label_smoothing"] = .float(labelSmoothing) }
        return try emit(.crossEntropy, [logits, labels], a, file: file, line: line)
    }
    /// Scaled dot-product attention over [B, H, L, D] tensors. `scale` defaults to 1/sqrt(D).
    public func attention(_ q: Value, _ k: Value, _ v: Value, mask: MaskPattern = .none, lens: Value? = nil, bias: Value? = nil,
                          scale: Double? = nil, file: String = #fileID, line: Int = #line) throws -> Value {
        let d = type(of: q).shape.last ?? 1
        let m = AttentionMask(mask, keyPadding: lens != nil)
        return try emit(.attention, [q, k, v] + [lens, bias].compactMap { $0 },
                        ["mask": .mask(m), "scale": .float(scale ?? 1 / Double(d).squareRoot())], file: file, line: line)
    }

    /// The masked attention weights [B, H, Lq, Lk] of `attention(q, k, v, ...)` (attention's backward reads them).
    public func attentionProbs(_ q: Value, _ k: Value, mask: MaskPattern = .none, lens: Value? = nil, bias: Value? = nil,
                               scale: Double? = nil, file: String = #fileID, line: Int = #line) throws -> Value {
        let d = type(of: q).shape.last ?? 1
        let m = AttentionMask(mask, keyPadding: lens != nil)
        return try emit(.attentionProbs, [q, k] + [lens, bias].compactMap { $0 },
                        ["mask": .mask(m), "scale": .float(scale ?? 1 / Double(d).squareRoot())], file: file, line: line)
    }

    // MARK: results

    /// Names a result of the graph.
    public func output(_ name: String, _ v: Value) {
        outputs.removeAll { $0.name == name }
        outputs.append((name, v))
    }

    /// Declares that a step writes `v` into the persistent parameter `name` (optimizer updates).
    public func update(_ name: String, _ v: Value) {
        updates.removeAll { $0.parameter == name }
        updates.append((name, v))
    }
}
