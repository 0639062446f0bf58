import GraphIR
import Testing
@testable import GraphRuntime

/// One executor-vs-interpreter check: a graph builder and the tolerance it is held to.
struct OpCase {
    var label: String
    var tolerance: Tolerance
    var build: (CaseBuilder) throws -> Value
}

// Tolerances, per op family (f32 results, against the interpreter which computes in Double and rounds):
let exact = Tolerance.exact                                   // data movement, comparisons, + - * /, casts, RNG
let polynomial = Tolerance(atol: 2e-6, rtol: 2e-6)            // SIMD exp, log, tanh, erf, sigmoid, gelu
let sums = Tolerance(atol: 1e-5, rtol: 1e-5)                  // reductions, norms, softmax (f32 accumulation order)
let gemm = Tolerance(atol: 2e-5, rtol: 2e-5)                  // sgemm and attention (blocked accumulation)
let f64 = Tolerance(atol: 1e-12, rtol: 1e-12)                 // f64 paths

/// The cases of one op. The switch has no default: a new op does not compile until it has executor cases.
func cases(_ op: OpKind) -> [OpCase] {
    func unaryCases(_ lo: Double, _ hi: Double, tol: Tolerance, ints: Bool = false) -> [OpCase] {
        var cs = [[7, 13], [1], [3, 1, 5], [], [40_000]].map { s in
            OpCase(label: "\(s)", tolerance: tol) { b in try b.g.unary(op, try b.x(s, .f32, lo, hi)) }
        }
        cs.append(OpCase(label: "f64 [4, 5]", tolerance: f64) { b in try b.g.unary(op, try b.x([4, 5], .f64, lo, hi)) })
        if ints { cs.append(OpCase(label: "i32 [9]", tolerance: exact) { b in try b.g.unary(op, try b.x([9], .i32, -50, 50)) }) }
        return cs
    }
    let broadcastPairs: [([Int], [Int])] = [([5, 7], [5, 7]), ([5, 7], [7]), ([5, 1], [1, 7]), ([3, 1, 4], [2, 1]),
                                            ([], [6]), ([6], []), ([1, 1], [3, 1]), ([300, 129], [129]), ([2, 20_000], [2, 20_000])]
    func binaryCases(tol: Tolerance, lo: Double = -3, hi: Double = 3, dtypes: [DType] = [.f32, .f64, .i32], rounded: Bool = false) -> [OpCase] {
        var cs: [OpCase] = []
        for (sa, sb) in broadcastPairs {
            cs.append(OpCase(label: "\(sa) \(sb)", tolerance: tol) { b in
                var (x, y) = (try b.x(sa, .f32, lo, hi), try b.x(sb, .f32, lo, hi))
                if rounded {
                    // Small integers as floats so comparisons see equal pairs.
                    x = try b.g.cast(try b.g.cast(x, to: .i32), to: .f32)
                    y = try b.g.cast(try b.g.cast(y, to: .i32), to: .f32)
                }
                return try b.g.binary(op, x, y)
            })
        }
        for d in dtypes where d != .f32 {
            cs.append(OpCase(label: "\(d) [4, 3] [3]", tolerance: d == .f64 ? f64 : exact) { b in
                try b.g.binary(op, try b.x([4, 3], d, lo, hi), try b.x([3], d, d == .i32 ? 1 : lo, hi))
            })
        }
        return cs
    }
    func reductionCases(tol: Tolerance) -> [OpCase] {
        let specs: [([Int], [Int], Bool)] = [([5, 7], [1], false), ([3, 4, 5], [0, 2], false), ([3, 4, 5], [-1], true),
                                             ([2, 3, 4], [0, 1, 2], false), ([6, 5], [0], true), ([1, 9], [1], false),
                                             ([64, 1000], [1], false), ([700, 64], [0], false), ([2, 3, 4], [1], false)]
        var cs = specs.map { s in
            OpCase(label: "\(s.0) axes \(s.1)\(s.2 ? " keep" : "")", tolerance: tol) { b in
                try b.g.reduce(op, try b.x(s.0), axes: s.1, keepDims: s.2)
            }
        }
        cs.append(OpCase(label: "f64", tolerance: f64) { b in try b.g.reduce(op, try b.x([4, 6], .f64), axes: [1]) })
        cs.append(OpCase(label: "i32", tolerance: exact) { b in try b.g.reduce(op, try b.x([4, 6], .i32, -9, 9), axes: [0]) })
        return cs
    }

    switch op {
    case .input:
        return [OpCase(label: "passthrough", tolerance: exact) { b in try b.x([3, 4]) }]
    case .parameter:
        return [OpCase(label: "trainable and frozen", tolerance: exact) { b in
            let w = try b.g.parameter("w", [3, 5], initializer: .normal(std: 1))
            let f = try b.g.parameter("f", [5], role: .frozen, initializer: .uniform(low: -1, high: 1))
            return try b.g.add(w, f)
        }]
    case .constant:
        return [OpCase(label: "tensor and splat", tolerance: exact) { b in
            let c = try b.g.constant(Tensor(.f32, [2, 3], [1, -2, 3.5, 4, 5, 6]))
            return try b.g.add(c, try b.g.constant(0.25, shape: [2, 3]))
        }]
    case .neg, .abs: return unaryCases(-3, 3, tol: exact, ints: true)
    case .exp: return unaryCases(-30, 30, tol: polynomial)
    case .log, .sqrt, .rsqrt: return unaryCases(0.01, 50, tol: polynomial)
    case .tanh, .erf, .sigmoid: return unaryCases(-6, 6, tol: polynomial)
    case .relu: return unaryCases(-3, 3, tol: exact)
    case .sin, .cos: return unaryCases(-5, 5, tol: polynomial)
    case .logicalNot:
        return [OpCase(label: "bool [5, 3]", tolerance: exact) { b in try b.g.unary(.logicalNot, try b.x([5, 3], .bool)) }]
    case .cast:
        let pairs: [(DType, DType)] = [(.f32, .i32), (.i32, .f32), (.f32, .bool), (.bool, .f32), (.f32, .f64), (.f64, .f32), (.i32, .bool)]
        return pairs.map { p in
            OpCase(label: "\(p.0) -> \(p.1)", tolerance: exact) { b in try b.g.cast(try b.x([4, 7], p.0, -5, 5), to: p.1) }
        }
    case .stopGradient:
        return [OpCase(label: "view then use", tolerance: exact) { b in
            let x = try b.x([4, 5])
            return try b.g.mul(try b.g.stopGradient(x), x)
        }]
    case .add, .sub, .mul, .maximum, .minimum: return binaryCases(tol: exact)
    case .div: return binaryCases(tol: exact, lo: 0.5, hi: 4)
    case .pow: return binaryCases(tol: polynomial, lo: 0.5, hi: 2, dtypes: [.f32, .f64])
    case .eq, .ne, .lt, .le, .gt, .ge: return binaryCases(tol: exact, rounded: true)
    case .logicalAnd, .logicalOr:
        return [([5, 7], [7]), ([3, 1], [1, 4]), ([6], [6])].map { s in
            OpCase(label: "\(s.0) \(s.1)", tolerance: exact) { b in try b.g.binary(op, try b.x(s.0, .bool), try b.x(s.1, .bool)) }
        }
    case .where:
        let shapes: [([Int], [Int], [Int])] = [([5, 7], [5, 7], [5, 7]), ([5, 1], [7], []), ([1, 7], [3, 1], [3, 7]), ([200, 300], [300], [])]
        var cs = shapes.map { s in
            OpCase(label: "\(s)", tolerance: exact) { b in try b.g.select(try b.x(s.0, .bool), try b.x(s.1), try b.x(s.2)) }
        }
        cs.append(OpCase(label: "i32", tolerance: exact) { b in try b.g.select(try b.x([4, 1], .bool), try b.x([4, 3], .i32, -9, 9), try b.x([3], .i32, -9, 9)) })
        return cs
    case .reduceSum, .reduceMean: return reductionCases(tol: sums)
    case .reduceMax: return reductionCases(tol: exact)
    case .argmax:
        return [([5, 7], 1), ([5, 7], 0), ([3, 4, 5], 1), ([1, 9], -1)].map { s in
            OpCase(label: "\(s.0) axis \(s.1)", tolerance: exact) { b in try b.g.argmax(try b.x(s.0), axis: s.1) }
        }
    case .reshape:
        return [OpCase(label: "view, then a kernel reads it", tolerance: exact) { b in
            let x = try b.x([4, 6])
            return try b.g.add(try b.g.reshape(x, [2, 12]), try b.g.reshape(try b.x([24]), [2, 12]))
        }, OpCase(label: "output is a view", tolerance: exact) { b in try b.g.reshape(try b.x([3, 4]), [12]) }]
    case .transpose:
        let specs: [([Int], [Int])] = [([5, 7], [1, 0]), ([2, 3, 4, 5], [0, 2, 1, 3]), ([3, 4, 5], [2, 0, 1]), ([1, 6, 1], [2, 1, 0]), ([64, 96], [1, 0])]
        return specs.map { s in OpCase(label: "\(s.0) perm \(s.1)", tolerance: exact) { b in try b.g.transpose(try b.x(s.0), s.1) } }
            + [OpCase(label: "i32", tolerance: exact) { b in try b.g.transpose(try b.x([3, 4], .i32, 0, 9), [1, 0]) }]
    case .broadcastTo:
        return [([3, 1], [2, 3, 5]), ([], [4]), ([5], [3, 5]), ([2, 1, 3], [2, 4, 3])].map { s in
            OpCase(label: "\(s.0) -> \(s.1)", tolerance: exact) { b in try b.g.broadcast(try b.x(s.0), to: s.1) }
        }
    case .slice:
        return [([7, 9], [1, 2], [6, 9]), ([4, 5, 6], [0, 1, 2], [4, 3, 5]), ([5], [2], [2]), ([3, 8], [0, 0], [3, 8])].map { s in
            OpCase(label: "\(s.0) [\(s.1), \(s.2))", tolerance: exact) { b in try b.g.slice(try b.x(s.0), starts: s.1, limits: s.2) }
        }
    case .pad:
        return [([3, 4], [1, 0], [2, 3]), ([2, 3, 4], [0, 1, 0], [0, 0, 2]), ([5], [0], [0])].map { s in
            OpCase(label: "\(s.0) low \(s.1) high \(s.2)", tolerance: exact) { b in try b.g.pad(try b.x(s.0), low: s.1, high: s.2) }
        }
    case .concat:
        return [([[2, 3], [4, 3], [1, 3]], 0), ([[2, 3], [2, 1], [2, 5]], 1), ([[2, 3, 4], [2, 2, 4]], -2), ([[5]], 0)].map { s in
            OpCase(label: "\(s.0) axis \(s.1)", tolerance: exact) { b in try b.g.concat(try s.0.map { try b.x($0) }, axis: s.1) }
        }
    case .gather:
        return [OpCase(label: "embedding rows", tolerance: exact) { b in try b.g.gather(try b.x([11, 6]), try b.ints([3, 4], 0..<11), axis: 0) },
                OpCase(label: "axis 1", tolerance: exact) { b in try b.g.gather(try b.x([3, 7, 2]), try b.ints([5], 0..<7), axis: 1) },
                OpCase(label: "scalar index", tolerance: exact) { b in try b.g.gather(try b.x([4, 3]), try b.ints([], 0..<4), axis: 0) }]
    case .scatterAdd:
        return [OpCase(label: "repeated rows", tolerance: sums) { b in try b.g.scatterAdd(try b.x([3, 4, 6]), try b.ints([3, 4], 0..<5), axis: 0, size: 5) },
                OpCase(label: "axis 1", tolerance: sums) { b in try b.g.scatterAdd(try b.x([2, 9, 3]), try b.ints([9], 0..<4), axis: 1, size: 4) }]
    case .iota:
        return [OpCase(label: "i32 axis 1", tolerance: exact) { b in try b.g.iota([3, 5], axis: 1) },
                OpCase(label: "f32 axis 0", tolerance: exact) { b in try b.g.iota([4, 2], axis: 0, .f32) }]
    case .matmul:
        let specs: [([Int], [Int], Bool, Bool)] = [([5, 7], [7, 3], false, false), ([7, 5], [7, 3], true, false), ([5, 7], [3, 7], false, true),
                                                   ([7, 5], [3, 7], true, true), ([2, 3, 4, 5], [5, 6], false, false), ([2, 1, 4, 5], [3, 5, 6], false, false),
                                                   ([3, 5, 4], [3, 5, 6], true, false), ([1, 1], [1, 1], false, false), ([64, 128], [96, 128], false, true),
                                                   ([12, 9, 16], [12, 11, 16], false, true)]
        return specs.map { s in
            OpCase(label: "\(s.0) x \(s.1) ta \(s.2) tb \(s.3)", tolerance: gemm) { b in
                try b.g.matmul(try b.x(s.0), try b.x(s.1), transposeA: s.2, transposeB: s.3)
            }
        } + [OpCase(label: "f64", tolerance: f64) { b in try b.g.matmul(try b.x([2, 5, 7], .f64), try b.x([7, 4], .f64)) }]
    case .randomUniform:
        return [OpCase(label: "f32 [300, 7]", tolerance: exact) { b in try b.g.randomUniform(seed: try b.ints([], 0..<1000), shape: [300, 7]) },
                OpCase(label: "f64", tolerance: exact) { b in try b.g.randomUniform(seed: try b.ints([], 0..<1000), shape: [5], .f64) }]
    case .sampleCategorical:
        return [OpCase(label: "rows of 9", tolerance: exact) { b in try b.g.sampleCategorical(logits: try b.x([6, 9], .f32, -3, 3), seed: try b.ints([], 0..<100)) }]
    case .softmax, .logSoftmax:
        let specs: [([Int], Int)] = [([5, 7], -1), ([3, 4, 5], 1), ([6, 1], -1), ([1], 0), ([200, 333], -1), ([4, 5], 0)]
        return specs.map { s in
            OpCase(label: "\(s.0) axis \(s.1)", tolerance: sums) { b in
                try b.g.emit(op, [try b.x(s.0, .f32, -8, 8)], ["axis": .int(s.1)])
            }
        } + [OpCase(label: "f64", tolerance: f64) { b in try b.g.emit(op, [try b.x([3, 6], .f64)], ["axis": .int(-1)]) }]
    case .layerNorm, .rmsNorm:
        var cs: [OpCase] = []
        for (shape, affine) in [([5, 7], 2), ([3, 4, 17], 1), ([6, 1], 0), ([300, 768], 2)] {
            cs.append(OpCase(label: "\(shape) affine \(affine)", tolerance: sums) { b in
                let d = shape.last!
                var ops = [try b.x(shape, .f32, -3, 3)]
                if affine >= 1 { ops.append(try b.x([d])) }
                if affine >= 2 && op == .layerNorm { ops.append(try b.x([d])) }
                return try b.g.emit(op, ops, ["eps": .float(1e-5)])
            })
        }
        cs.append(OpCase(label: "f64", tolerance: f64) { b in try b.g.emit(op, [try b.x([3, 6], .f64), try b.x([6], .f64)], ["eps": .float(1e-6)]) })
        return cs
    case .gelu:
        return [false, true].flatMap { approx in
            [[7, 13], [40_000], [1]].map { s in
                OpCase(label: "\(s) tanh \(approx)", tolerance: polynomial) { b in try b.g.gelu(try b.x(s, .f32, -6, 6), approximate: approx) }
            } + [OpCase(label: "f64 tanh \(approx)", tolerance: f64) { b in try b.g.gelu(try b.x([5], .f64), approximate: approx) }]
        }
    case .crossEntropy:
        return [OpCase(label: "plain", tolerance: sums) { b in try b.g.crossEntropy(logits: try b.x([6, 11], .f32, -4, 4), labels: try b.ints([6], 0..<11)) },
                OpCase(label: "ignore index and smoothing", tolerance: sums) { b in
                    try b.g.crossEntropy(logits: try b.x([2, 5, 33]), labels: try b.ints([2, 5], -1..<33), ignoreIndex: -1, labelSmoothing: 0.1)
                },
                OpCase(label: "all ignored", tolerance: exact) { b in
                    try b.g.crossEntropy(logits: try b.x([3, 4]), labels: try b.ints([3], -100..<(-99)))
                },
                OpCase(label: "f64", tolerance: f64) { b in try b.g.crossEntropy(logits: try b.x([4, 7], .f64), labels: try b.ints([4], 0..<7)) }]
    case .fusedElementwise:
        let specs: [(String, [[Int]], [DType])] = [("gelu(add($0, $1))", [[6, 33], [33]], [.f32, .f32]),
                                                   ("where(gt($0, 0), $0, mul($0, 0.01))", [[40_000]], [.f32]),
                                                   ("lt($0, $1)", [[5, 7], [5, 1]], [.f32, .f32]),
                                                   ("mul(sub($0, $1), rsqrt(add($2, 1e-05)))", [[4, 9], [4, 1], [4, 1]], [.f32, .f32, .f32]),
                                                   ("where($0, exp($1), neg(tanh($1)))", [[3, 1], [3, 17]], [.bool, .f32]),
                                                   ("sigmoid(mul($0, $1))", [[2, 3], [3]], [.f64, .f64])]
        return specs.map { s in
            OpCase(label: s.0, tolerance: s.2.contains(.f64) ? f64 : polynomial) { b in
                try b.g.emit(.fusedElementwise, try zip(s.1, s.2).map { try b.x($0.0, $0.1) }, ["expr": .string(s.0)])
            }
        }
    case .fusedReduce:
        let specs: [(String, String, [Int], [[Int]])] = [("mul($0, $0)", "sum", [1], [[6, 50], [6, 50]]), ("exp($0)", "max", [0], [[7, 5]]),
                                                         ("sub($0, $1)", "mean", [0, 1], [[3, 4], [4]]), ("relu($0)", "sum", [0], [[300, 64]])]
        return specs.map { s in
            OpCase(label: "\(s.0) \(s.1) \(s.2)", tolerance: sums) { b in
                try b.g.emit(.fusedReduce, try s.3.map { try b.x($0) }, ["expr": .string(s.0), "reduce": .symbol(s.1), "axes": .ints(s.2)])
            }
        }
    case .fusedMatmul:
        let specs: [(String, [Int], [Int], Bool, [[Int]])] = [("gelu(add($0, $1))", [6, 16], [24, 16], true, [[24]]),
                                                              ("add($0, $1)", [2, 5, 7], [7, 3], false, [[2, 5, 3]]),
                                                              ("gt($0, 0)", [4, 5], [5, 6], false, []),
                                                              ("mul($0, 0.125)", [3, 4, 8], [3, 6, 8], true, [])]
        return specs.map { s in
            OpCase(label: "\(s.0) \(s.1) x \(s.2)", tolerance: gemm) { b in
                var at: Attributes = ["expr": .string(s.0)]
                if s.3 { at["transpose_b"] = .bool(true) }
                return try b.g.emit(.fusedMatmul, [try b.x(s.1), try b.x(s.2)] + s.4.map { try b.x($0) }, at)
            }
        }
    case .addLayerNorm:
        return [OpCase(label: "same shapes, gamma and beta", tolerance: sums) { b in
                    try b.g.emit(.addLayerNorm, [try b.x([5, 24]), try b.x([5, 24]), try b.x([24]), try b.x([24])], ["eps": .float(1e-5)])
                },
                OpCase(label: "broadcast residual", tolerance: sums) { b in
                    try b.g.emit(.addLayerNorm, [try b.x([3, 4, 9]), try b.x([9])], ["eps": .float(1e-6)])
                }]
    case .attentionProbs:
        let specs: [(MaskPattern, Bool, [Int]?, Int, Int)] = [(.none, false, nil, 5, 5), (.causal, true, nil, 4, 6), (.block([3, 2]), false, [1, 3, 5, 5], 5, 5),
                                                              (.prefixCausal(2), false, nil, 70, 70)]
        return specs.map { s in
            OpCase(label: "\(s.0) lens \(s.1) bias \(s.2 ?? [])", tolerance: gemm) { b in
                let q = try b.x([2, 3, s.3, 4]), k = try b.x([2, 3, s.4, 4])
                var ops = [q, k]
                if s.1 { ops.append(try b.ints([2], 0..<(s.4 + 1))) }
                if let bs = s.2 { ops.append(try b.x(bs)) }
                return try b.g.emit(.attentionProbs, ops, ["mask": .mask(AttentionMask(s.0, keyPadding: s.1)), "scale": .float(0.5)])
            }
        }
    case .attention:
        struct A { var b = 2, h = 3, hk = 3, lq = 5, lk = 5, d = 4, dv = 4; var mask = MaskPattern.none; var lens = false; var bias: [Int]? = nil; var dtype = DType.f32 }
        let specs: [A] = [A(), A(mask: .causal), A(lq: 3, lk: 7, mask: .causal), A(lq: 9, lk: 9, mask: .prefixCausal(4)),
                          A(lq: 7, lk: 7, mask: .block([2, 4, 1])), A(mask: .causal, lens: true), A(lens: true, bias: [1, 1, 5, 5]),
                          A(h: 4, hk: 2, d: 3, dv: 6, mask: .causal), A(b: 1, h: 1, hk: 1, lq: 1, lk: 1, d: 1, dv: 1),
                          A(b: 1, h: 2, hk: 2, lq: 130, lk: 130, d: 16, dv: 16, mask: .causal, bias: [2, 130, 130]),
                          A(b: 2, h: 2, hk: 2, lq: 32, lk: 257, d: 8, dv: 8), A(mask: .causal, lens: true, dtype: .f64)]
        return specs.map { a in
            OpCase(label: "B\(a.b) H\(a.h)/\(a.hk) \(a.lq)x\(a.lk) \(a.mask) lens \(a.lens) bias \(a.bias ?? []) \(a.dtype)",
                   tolerance: a.dtype == .f64 ? f64 : gemm) { b in
                let q = try b.x([a.b, a.h, a.lq, a.d], a.dtype), k = try b.x([a.b, a.hk, a.lk, a.d], a.dtype), v = try b.x([a.b, a.hk, a.lk, a.dv], a.dtype)
                let lens = a.lens ? try b.ints([a.b], 0..<(a.lk + 1)) : nil
                let bias = try a.bias.map { try b.x($0, a.dtype) }
                return try b.g.attention(q, k, v, mask: a.mask, lens: lens, bias: bias)
            }
        }
    }
}

@Suite struct OpCoverageTests {
    /// Every op in the registry runs on the executor and equals the interpreter within its family's tolerance,
    /// single-threaded and with two threads, with and without in-place reuse.
    @Test(arguments: OpKind.allCases)
    func executorMatchesInterpreter(_ op: OpKind) throws {
        let all = cases(op)
        #expect(!all.isEmpty, "op \(op.mnemonic) has no executor case")
        for (k, c) in all.enumerated() {
            let b = CaseBuilder(seed: UInt64(k + 1) &* 7919 &+ UInt64(truncatingIfNeeded: stableHash(op.mnemonic)))
            let y = try c.build(b)
            b.g.output("y", y)
            let problems = try compareWithInterpreter(b.g, inputs: b.inputs, tolerance: c.tolerance)
            #expect(problems.isEmpty, "\(op.mnemonic) \(c.label): \(problems.prefix(3).joined(separator: "; "))")
        }
    }
}
