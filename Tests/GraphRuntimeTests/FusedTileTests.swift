import GraphIR
import Testing
@testable import GraphRuntime

/// The tile programs of fused kernels (Kernels/FusedTiles.swift) against the interpreter: sizes around and across
/// tile boundaries, every broadcast pattern the gather handles, size-1 dimensions, f64, non-float operands and
/// results, in-place outputs, and every function of the expression language. Each case runs with 1 and 2 threads
/// and with in-place reuse on and off (`compareWithInterpreter`).
@Suite struct FusedTileTests {
    /// f32 chains round each op to f32 like the interpreter, but literals are f32 in the tile (the interpreter
    /// multiplies by the double literal) and transcendentals are polynomials: a few ulps per op.
    static let chain = Tolerance(atol: 1e-5, rtol: 1e-5)

    func check(_ label: String, tolerance: Tolerance, seed: UInt64 = 1, _ build: (CaseBuilder) throws -> Value) throws {
        let b = CaseBuilder(seed: seed)
        b.g.output("y", try build(b))
        let problems = try compareWithInterpreter(b.g, inputs: b.inputs, tolerance: tolerance)
        #expect(problems.isEmpty, "\(label): \(problems.prefix(3).joined(separator: "; "))")
    }

    func fused(_ b: CaseBuilder, _ expr: String, _ operands: [Value]) throws -> Value {
        try b.g.emit(.fusedElementwise, operands, ["expr": .string(expr)])
    }

    static let layerNormBackward = "mul($0, sub(sub($1, $2), mul($3, $4)))"

    /// Shapes of the layer-norm-backward chain ([rows, 1] statistics against [.., D] values): odd D, D across the
    /// tile size, a single row, size-1 middle dims.
    @Test(arguments: [[1, 1, 1], [2, 3, 17], [3, 1, 255], [1, 2, 2500], [4, 5, 33], [7, 1]])
    func broadcastStatistics(_ shape: [Int]) throws {
        let stat = Array(shape.dropLast()) + [1]
        for dtype in [DType.f32, .f64] {
            try check("\(Self.layerNormBackward) \(shape) \(dtype)", tolerance: dtype == .f64 ? f64 : Self.chain) { b in
                try fused(b, Self.layerNormBackward, [try b.x(stat, dtype), try b.x(shape, dtype), try b.x(stat, dtype),
                                                      try b.x(shape, dtype), try b.x(stat, dtype)])
            }
        }
    }

    /// Every broadcast pattern: row vectors, columns, outer products, middle dims, scalars, same shape.
    @Test(arguments: [([5, 7], [7]), ([5, 7], [5, 1]), ([5, 1], [1, 7]), ([3, 1, 4], [2, 1]), ([2, 3, 4], [1, 3, 1]),
                      ([], [6]), ([6], []), ([1, 1], [3, 1]), ([300, 129], [129]), ([3, 4100], [4100]), ([2, 2049], [2, 1]),
                      ([17], [17]), ([2, 9000], [2, 9000])])
    func broadcastPairs(_ shapes: ([Int], [Int])) throws {
        let (sa, sb) = shapes
        try check("gelu(add) \(sa) \(sb)", tolerance: Self.chain) { b in
            try fused(b, "gelu(add($0, $1))", [try b.x(sa), try b.x(sb)])
        }
        try check("where(gt) \(sa) \(sb) f64", tolerance: f64) { b in
            try fused(b, "where(gt($0, $1), mul($0, 0.5), sub($1, 2))", [try b.x(sa, .f64), try b.x(sb, .f64)])
        }
    }

    /// Each function of the language alone on f32 and f64, over 1000 values (63 full vectors and a partial one).
    @Test(arguments: ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "relu", "sin", "cos",
                      "logical_not", "gelu", "gelu_tanh", "add", "sub", "mul", "div", "maximum", "minimum", "pow",
                      "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "where"])
    func everyFunction(_ f: String) throws {
        let unary = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "relu", "sin", "cos", "logical_not", "gelu", "gelu_tanh"]
        let positive = ["log", "sqrt", "rsqrt", "pow"].contains(f)
        let expr = f == "where" ? "where($0, $1, $2)" : unary.contains(f) ? "\(f)($0)" : "\(f)($0, $1)"
        let arity = f == "where" ? 3 : unary.contains(f) ? 1 : 2
        for dtype in [DType.f32, .f64] {
            try check("\(f) \(dtype)", tolerance: dtype == .f64 ? f64 : polynomial) { b in
                var operands: [Value] = []
                for k in 0..<arity {
                    // Rounded values so comparisons and logical ops see equal pairs and zeros.
                    let x = try b.x([1000], dtype, positive ? 0.1 : -4, 4)
                    operands.append(["eq", "ne", "le", "ge", "logical_and", "logical_or", "logical_not", "where"].contains(f) && k == 0
                                    ? try b.g.cast(try b.g.cast(x, to: .i32), to: dtype) : x)
                }
                return try fused(b, expr, operands)
            }
        }
    }

    /// A unary function of a binary one, `f(a ∘ b)`, runs as one instruction: every such pair, f32 and f64, with
    /// one operand a vector and the other a per-row scalar, over an odd row length.
    @Test(arguments: ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "relu", "logical_not", "gelu", "gelu_tanh",
                      "sin"])
    func unaryOfBinary(_ f: String) throws {
        for inner in ["add", "sub", "mul", "div"] {
            for dtype in [DType.f32, .f64] {
                try check("\(f)(\(inner)) \(dtype)", tolerance: dtype == .f64 ? f64 : Self.chain) { b in
                    try fused(b, "\(f)(\(inner)($0, $1))", [try b.x([3, 77], dtype, 0.5, 2), try b.x([3, 1], dtype, -1.5, 1.5)])
                }
            }
        }
    }

    /// Bool and i32 operands (gathered with conversion), bool results, a bare operand and a literal as result.
    @Test func otherDTypes() throws {
        try check("bool operand, f32 result", tolerance: polynomial) { b in
            try fused(b, "where($0, exp($1), neg(tanh($1)))", [try b.x([3, 1], .bool), try b.x([3, 2001])])
        }
        try check("i32 operand", tolerance: exact) { b in try fused(b, "mul($0, $1)", [try b.x([700], .i32, -9, 9), try b.x([700])]) }
        try check("bool result", tolerance: exact) { b in try fused(b, "lt($0, $1)", [try b.x([5, 2100]), try b.x([5, 1])]) }
        try check("bool result from bool operands", tolerance: exact) { b in
            try fused(b, "logical_and($0, logical_not($1))", [try b.x([33], .bool), try b.x([1, 33], .bool)])
        }
        try check("bare operand", tolerance: exact) { b in try fused(b, "$1", [try b.x([4, 5]), try b.x([5])]) }
        try check("literal", tolerance: exact) { b in try fused(b, "add(2.5, 0.25)", [try b.x([19])]) }
    }

    /// Operands that are kernel results, so the output may take over their buffer (the last instruction writes
    /// over an operand it reads).
    @Test func inPlaceOperands() throws {
        for n in [15, 2048, 3001] {
            try check("in place [\(n)]", tolerance: Self.chain) { b in
                let e = try b.g.exp(try b.x([2, n]))
                return try fused(b, "mul(add($0, $1), $0)", [e, try b.g.neg(try b.x([2, n]))])
            }
        }
    }

    /// A GEMM epilogue over the product in place.
    @Test func matmulEpilogue() throws {
        try check("fused_matmul gelu epilogue", tolerance: gemm) { b in
            try b.g.emit(.fusedMatmul, [try b.x([37, 16]), try b.x([16, 2100]), try b.x([2100])], ["expr": .string("gelu(add($0, $1))")])
        }
    }

    /// Reductions folded per tile: rows longer than a tile, wide and narrow inner blocks, a single outer block split
    /// by columns, every axis, keep_dims, broadcast operands, f64, and a non-contiguous axis set (mapped to scratch).
    @Test(arguments: [([3, 5000], [1]), ([7, 300, 5], [1]), ([1, 3, 4500], [1]), ([2, 3, 4500], [1]), ([700, 64], [0]),
                      ([2, 3, 4], [0, 1, 2]), ([3, 4, 5], [0, 2]), ([5, 1, 7], [1]), ([1], [0]), ([6, 33], [-1])])
    func reductions(_ spec: ([Int], [Int])) throws {
        let (shape, axes) = spec
        for kind in ["sum", "mean", "max"] {
            for dtype in [DType.f32, .f64] {
                try check("fused_reduce \(kind) \(shape) axes \(axes) \(dtype)", tolerance: dtype == .f64 ? f64 : sums) { b in
                    let x = try b.x(shape, dtype), y = try b.x(Array(shape.suffix(1)), dtype)
                    return try b.g.emit(.fusedReduce, [x, y], ["expr": .string("mul(sub($0, $1), $0)"), "reduce": .symbol(kind),
                                                           "axes": .ints(axes), "keep_dims": .bool(kind == "mean")])
                }
            }
        }
    }

    /// Row reductions whose rows go to C in stretches (one tile per row, totals written by C): same-shape operands,
    /// a per-row scalar and a row vector, with rows of 16, 100 and 1000 values.
    @Test(arguments: [16, 100, 1000])
    func rowReductions(_ length: Int) throws {
        let rows = 37
        let specs: [(String, [[Int]])] = [("mul($0, $1)", [[rows, length], [rows, length]]),
                                           ("exp(sub($0, $1))", [[rows, length], [rows, 1]]),
                                           ("mul($0, $1)", [[rows, length], [length]])]
        for (expr, shapes) in specs {
            for kind in ["sum", "mean", "max"] {
                for dtype in [DType.f32, .f64] {
                    try check("fused_reduce \(kind) \(expr) \(shapes) \(dtype)", tolerance: dtype == .f64 ? f64 : sums) { b in
                        try b.g.emit(.fusedReduce, try shapes.map { try b.x($0, dtype) },
                                     ["expr": .string(expr), "reduce": .symbol(kind), "axes": .ints([1])])
                    }
                }
            }
        }
    }
}
