// The scalar expression language of fused kernels (`fused_elementwise`, `fused_reduce`, `fused_matmul`).
//
//   expr := number | '$' index | name '(' expr (',' expr)* ')'
//
// `name` is the mnemonic of an elementwise op (`add`, `mul`, `exp`, `where`, `gelu`, ...; `gelu_tanh` is the tanh
// approximation), `$i` reads operand `i` broadcast to the kernel's shape, and numbers are scalar literals
// (`inf`, `-inf`, `nan` allowed). Example: `gelu(add($0, $1))` is a bias + GELU epilogue.
//
// Semantics match the unfused ops exactly: every arithmetic sub-expression is rounded to the kernel's float dtype,
// as the reference interpreter rounds after each op, so a fused graph gives bit-identical interpreter results.

/// A parsed fused-kernel expression.
public indirect enum FusedExpression: Hashable, Sendable, CustomStringConvertible {
    case operand(Int)
    case literal(Double)
    case apply(String, [FusedExpression])

    /// Unary, binary and ternary functions the language knows, by name; bool-valued ones are listed in `booleanOps`.
    static let arities: [String: Int] = [
        "neg": 1, "abs": 1, "exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "tanh": 1, "erf": 1, "sigmoid": 1, "relu": 1,
        "sin": 1, "cos": 1, "logical_not": 1, "gelu": 1, "gelu_tanh": 1,
        "add": 2, "sub": 2, "mul": 2, "div": 2, "maximum": 2, "minimum": 2, "pow": 2,
        "eq": 2, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2, "logical_and": 2, "logical_or": 2,
        "where": 3,
    ]
    /// Functions whose result is a boolean.
    public static let booleanOps: Set<String> = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not"]

    /// Whether `name` can appear in an expression.
    public static func knows(_ name: String) -> Bool { arities[name] != nil }

    /// Parses the text form; errors say what was expected where.
    public static func parse(_ text: String) throws -> FusedExpression {
        var p = ExpressionParser(chars: Array(text))
        let e = try p.expression()
        p.skipSpaces()
        guard p.pos == p.chars.count else { throw ShapeError("expr: unexpected '\(p.chars[p.pos])' at offset \(p.pos) in \"\(text)\"") }
        return e
    }

    public var description: String {
        switch self {
        case .operand(let i): return "$\(i)"
        case .literal(let d): return d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : d.description
        case .apply(let f, let args): return "\(f)(" + args.map(\.description).joined(separator: ", ") + ")"
        }
    }

    /// Whether the expression yields a boolean (0/1) rather than a number.
    public var isBoolean: Bool {
        switch self {
        case .operand, .literal: return false
        case .apply(let f, let args): return FusedExpression.booleanOps.contains(f) || (f == "where" && args[1].isBoolean)
        }
    }

    /// The largest operand index used, or -1.
    public var maxOperand: Int {
        switch self {
        case .operand(let i): return i
        case .literal: return -1
        case .apply(_, let args): return args.map(\.maxOperand).max() ?? -1
        }
    }

    /// Number of function applications (the FLOP estimate per element).
    public var opCount: Int {
        switch self {
        case .operand, .literal: return 0
        case .apply(let f, let args): return args.map(\.opCount).reduce(0, +) + (f.hasPrefix("gelu") ? 10 : 1)
        }
    }

    /// Evaluates at one element; `x` holds the operands' values there. Arithmetic results are rounded to `dtype`.
    public func evaluate(_ x: [Double], dtype: DType) -> Double {
        switch self {
        case .operand(let i): return x[i]
        case .literal(let d): return d
        case .apply(let f, let args):
            let a = args.map { $0.evaluate(x, dtype: dtype) }
            let r = FusedExpression.apply(f, a)
            return FusedExpression.booleanOps.contains(f) || dtype != .f32 ? r : Double(Float(r))
        }
    }

    static func apply(_ f: String, _ a: [Double]) -> Double {
        switch f {
        case "neg": return -a[0]
        case "abs": return Swift.abs(a[0])
        case "exp": return libm_exp(a[0])
        case "log": return libm_log(a[0])
        case "sqrt": return a[0].squareRoot()
        case "rsqrt": return 1 / a[0].squareRoot()
        case "tanh": return Foundation_tanh(a[0])
        case "erf": return Foundation_erf(a[0])
        case "sigmoid": return 1 / (1 + libm_exp(-a[0]))
        case "relu": return Swift.max(a[0], 0)
        case "sin": return libm_sin(a[0])
        case "cos": return libm_cos(a[0])
        case "logical_not": return a[0] == 0 ? 1 : 0
        case "gelu": return geluErf(a[0])
        case "gelu_tanh": return geluTanh(a[0])
        case "add": return a[0] + a[1]
        case "sub": return a[0] - a[1]
        case "mul": return a[0] * a[1]
        case "div": return a[0] / a[1]
        case "maximum": return Swift.max(a[0], a[1])
        case "minimum": return Swift.min(a[0], a[1])
        case "pow": return libm_pow(a[0], a[1])
        case "eq": return a[0] == a[1] ? 1 : 0
        case "ne": return a[0] != a[1] ? 1 : 0
        case "lt": return a[0] < a[1] ? 1 : 0
        case "le": return a[0] <= a[1] ? 1 : 0
        case "gt": return a[0] > a[1] ? 1 : 0
        case "ge": return a[0] >= a[1] ? 1 : 0
        case "logical_and": return a[0] != 0 && a[1] != 0 ? 1 : 0
        case "logical_or": return a[0] != 0 || a[1] != 0 ? 1 : 0
        default: return a[0] != 0 ? a[1] : a[2]  // where
        }
    }
}

private struct ExpressionParser {
    let chars: [Character]
    var pos = 0

    mutating func skipSpaces() { while pos < chars.count && chars[pos] == " " { pos += 1 } }

    func fail(_ expected: String) -> ShapeError {
        ShapeError("expr: expected \(expected) at offset \(pos), found \(pos < chars.count ? "'\(chars[pos])'" : "end") in \"\(String(chars))\"")
    }

    mutating func expression() throws -> FusedExpression {
        skipSpaces()
        guard pos < chars.count else { throw fail("an expression") }
        if chars[pos] == "$" {
            pos += 1
            let start = pos
            while pos < chars.count && chars[pos].isNumber { pos += 1 }
            guard let i = Int(String(chars[start..<pos])) else { throw fail("an operand index after '$'") }
            return .operand(i)
        }
        let start = pos
        while pos < chars.count && (chars[pos].isLetter || chars[pos].isNumber || "_.+-".contains(chars[pos])) { pos += 1 }
        let word = String(chars[start..<pos])
        switch word {
        case "inf": return .literal(.infinity)
        case "-inf": return .literal(-.infinity)
        case "nan": return .literal(.nan)
        default: break
        }
        if let d = Double(word) { return .literal(d) }
        guard let arity = FusedExpression.arities[word] else {
            pos = start
            throw fail("a number, '$i' or a known function (got '\(word)')")
        }
        skipSpaces()
        guard pos < chars.count && chars[pos] == "(" else { throw fail("'(' after \(word)") }
        pos += 1
        var args: [FusedExpression] = []
        while true {
            args.append(try expression())
            skipSpaces()
            guard pos < chars.count else { throw fail("',' or ')'") }
            if chars[pos] == "," { pos += 1; continue }
            guard chars[pos] == ")" else { throw fail("',' or ')'") }
            pos += 1
            break
        }
        guard args.count == arity else { throw ShapeError("expr: \(word) takes \(arity) arguments, got \(args.count)") }
        return .apply(word, args)
    }
}
