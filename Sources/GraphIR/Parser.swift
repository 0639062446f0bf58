// Reads the IR text format (grammar in Docs/IR.md) by recursive descent over `TextLexer` tokens.
// Each node is checked as the builder checks it: arity, attribute schema, and the op's own type rule, whose
// result must equal the written type. Every failure is a `GraphError(.parse, "LINE:COL: expected X, found Y")`.

import Foundation

/// Parses graphs from the IR text format.
public enum GraphParser {
    /// Parses one graph. Value names may be any `%identifier` (`%0`, `%qk`); values are renumbered in order.
    public static func parse(_ text: String) throws -> Graph {
        var p = Parser(Array(text.utf8))
        return try p.parseGraph()
    }

    /// Parses raw bytes, first checking that they are UTF-8 (the error names the line, column and byte offset).
    public static func parse(_ bytes: [UInt8]) throws -> Graph {
        try validateUTF8(bytes)
        var p = Parser(bytes)
        return try p.parseGraph()
    }

    public static func parse(data: Data) throws -> Graph {
        try parse([UInt8](data))
    }

    static func validateUTF8(_ bytes: [UInt8]) throws {
        // The standard library's validation is fast; the scalar-by-scalar walk only runs to locate an error.
        if String(validating: bytes, as: UTF8.self) != nil { return }
        var decoder = Unicode.UTF8.ForwardParser()
        var it = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.parseScalar(from: &it) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return
            case .error:
                let (l, c) = SourcePosition(bytes: bytes).lineColumn(offset)
                let hex = String(bytes[offset], radix: 16, uppercase: true)
                throw GraphError(.parse, "\(l):\(c): expected UTF-8 text, found invalid byte 0x\(hex.count < 2 ? "0" + hex : hex) at byte offset \(offset)")
            }
        }
    }
}

/// Integers in attributes are limited so the shape rules' arithmetic on them cannot overflow.
let attributeIntLimit = 1 << 53

private struct Parser {
    var lexer: TextLexer
    var token: TextToken
    var lexError: GraphError?
    let graph = Graph()
    /// Value names to values and where they were defined.
    var values: [String: (value: Value, offset: Int)] = [:]
    /// Leaf names to the offset of the node's attributes (for "already used at") and, for parameters, the value.
    var parameterNames: [String: (offset: Int, value: Value)] = [:]
    var inputNames: [String: Int] = [:]

    init(_ bytes: [UInt8]) {
        lexer = TextLexer(bytes)
        token = TextToken(kind: .end, offset: 0, end: 0)
        do { token = try lexer.next() } catch { lexError = error as? GraphError }
    }

    var position: SourcePosition { lexer.position }

    func error(_ at: Int, _ message: String) -> GraphError { position.error(at, message) }
    func expected(_ what: String) -> GraphError {
        error(token.offset, "expected \(what), found \(token.described(in: lexer.bytes))")
    }

    mutating func advance() throws {
        token = try lexer.next()
    }

    mutating func take(_ p: Character, _ context: String = "") throws {
        guard token.kind == .punct(p.asciiValue ?? 0) else {
            throw expected("'\(p)'\(context.isEmpty ? "" : " " + context)")
        }
        try advance()
    }

    func isPunct(_ p: Character) -> Bool { token.kind == .punct(p.asciiValue ?? 0) }
    func isKeyword(_ k: String) -> Bool { token.kind == .identifier(k) }

    mutating func keyword(_ k: String) throws {
        guard isKeyword(k) else { throw expected("'\(k)'") }
        try advance()
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        guard case .string(let s) = token.kind else { throw expected(what()) }
        try advance()
        return s
    }

    mutating func identifier(_ what: @autoclosure () -> String) throws -> String {
        guard case .identifier(let s) = token.kind else { throw expected(what()) }
        try advance()
        return s
    }

    // MARK: graph and statements

    mutating func parseGraph() throws -> Graph {
        if let lexError { throw lexError }
        try keyword("graph")
        graph.name = try string("the graph name as a string")
        try take("{", "to open the graph body")
        while !isPunct("}") {
            switch token.kind {
            case .value: try node()
            case .identifier("output"): try output()
            case .identifier("update"): try update()
            default: throw expected("a node ('%name = op ...'), 'output', 'update' or '}'")
            }
        }
        try advance()
        guard token.kind == .end else { throw expected("end of input after the graph's closing '}'") }
        return graph
    }

    mutating func valueUse(_ context: @autoclosure () -> String) throws -> Value {
        guard case .value(let name) = token.kind else { throw expected("a value (%name) \(context())") }
        guard let v = values[name] else {
            throw error(token.offset, "expected a value defined before this use, found undefined value %\(name)")
        }
        try advance()
        return v.value
    }

    mutating func output() throws {
        try advance()
        let at = token.offset
        let name = try string("the output name as a string")
        if graph.outputs.contains(where: { $0.name == name }) {
            throw error(at, "expected a new output name, found duplicate output \(GraphPrinter.quoted(name))")
        }
        try take("=", "after the output name")
        graph.outputs.append((name, try valueUse("for the output")))
    }

    mutating func update() throws {
        try advance()
        let at = token.offset
        let name = try string("the updated parameter's name as a string")
        guard let param = parameterNames[name] else {
            throw error(at, "expected the name of a parameter defined above, found \(GraphPrinter.quoted(name))")
        }
        if graph.updates.contains(where: { $0.parameter == name }) {
            throw error(at, "expected one update per parameter, found a second update of \(GraphPrinter.quoted(name))")
        }
        try take("=", "after the parameter name")
        let valueAt = token.offset
        let v = try valueUse("for the update")
        let pt = graph.type(of: param.value), vt = graph.type(of: v)
        guard pt == vt else {
            throw error(valueAt, "expected a value of the parameter's type \(pt), found \(v) of type \(vt)")
        }
        graph.updates.append((name, v))
    }

    mutating func node() throws {
        guard case .value(let name) = token.kind else { throw expected("a value name") }
        let nameAt = token.offset
        if let previous = values[name] {
            let (l, c) = position.lineColumn(previous.offset)
            throw error(nameAt, "expected a new value name, found %\(name) already defined at \(l):\(c)")
        }
        try advance()
        try take("=", "after the value name")
        let opAt = token.offset
        guard case .identifier(let mnemonic) = token.kind else { throw expected("an op name") }
        guard let op = OpKind(mnemonic: mnemonic) else {
            throw error(opAt, "expected an op name, found unknown op '\(mnemonic)'")
        }
        try advance()
        let spec = op.spec

        var operands: [Value] = []
        let operandsAt = token.offset
        if isPunct("(") {
            try advance()
            while !isPunct(")") {
                if !operands.isEmpty { try take(",", "or ')' between operands") }
                operands.append(try valueUse("as an operand of \(mnemonic)"))
            }
            try advance()
        }
        guard spec.arity.contains(operands.count) else {
            throw error(operandsAt, "expected \(arityText(spec.arity)) for \(mnemonic), found \(operands.count)")
        }

        var attributes: Attributes = [:]
        let attributesAt = token.offset
        if isPunct("{") {
            let lens = spec.arity.lowerBound < operands.count ? operands[spec.arity.lowerBound] : nil
            attributes = try attributeDict(schema: spec.attributes, op: mnemonic, lens: lens)
        }
        for s in spec.attributes where s.required && attributes[s.name] == nil {
            throw error(attributesAt, "expected attribute '\(s.name)' for \(mnemonic), found none")
        }

        try take(":", "before the result type")
        let typeAt = token.offset
        let written = try tensorType()

        var node = Node(op: op, operands: operands, attributes: attributes, type: written)
        try clauses(&node)

        let operandTypes = operands.map { graph.type(of: $0) }
        let inferred: TensorType
        do {
            try validateAttributes(op, attributes)
            inferred = try spec.inferType(InferContext(operands: operandTypes, attributes: attributes, declared: written))
        } catch let e as ShapeError {
            let types = operandTypes.isEmpty ? "" : " (operands \(operandTypes.map(\.description).joined(separator: ", ")))"
            throw error(opAt, "expected a valid \(mnemonic)\(types), found: \(e.message)")
        }
        guard inferred == written else {
            throw error(typeAt, "expected type \(inferred) (inferred for \(mnemonic) from its operands), found \(written)")
        }
        try checkLeafName(node, at: attributesAt)
        values[name] = (graph.append(node), nameAt)
    }

    /// Parameter and input names identify leaves across graphs (checkpoints, feeds), so they must be unique.
    mutating func checkLeafName(_ node: Node, at: Int) throws {
        guard node.op == .parameter || node.op == .input, let leaf = node.name else { return }
        let kind = node.op == .parameter ? "parameter" : "input"
        if let previous = node.op == .parameter ? parameterNames[leaf]?.offset : inputNames[leaf] {
            let (l, c) = position.lineColumn(previous)
            throw error(at, "expected a unique \(kind) name, found \(GraphPrinter.quoted(leaf)) already used at \(l):\(c)")
        }
        if node.op == .parameter { parameterNames[leaf] = (at, Value(graph.nodes.count)) } else { inputNames[leaf] = at }
    }

    /// Trailing `scope "..."`, `note {...}`, `loc "File.swift:12"`, each at most once, in any order.
    mutating func clauses(_ node: inout Node) throws {
        var seen: Set<String> = []
        while case .identifier(let k) = token.kind, ["scope", "note", "loc"].contains(k) {
            if seen.contains(k) { throw error(token.offset, "expected one '\(k)' per node, found a second one") }
            seen.insert(k)
            try advance()
            switch k {
            case "scope": node.scope = try string("the scope as a string")
            case "note": node.notes = try attributeDict(schema: nil, op: "note", lens: nil)
            default:
                let at = token.offset
                let text = try string("the location as a string \"File.swift:LINE\"")
                guard let colon = text.lastIndex(of: ":"), let line = Int(text[text.index(after: colon)...]), line >= 0 else {
                    throw error(at, "expected a location \"File.swift:LINE\", found \(GraphPrinter.quoted(text))")
                }
                node.location = SourceLocation(file: String(text[..<colon]), line: line)
            }
        }
    }

    func arityText(_ r: ClosedRange<Int>) -> String {
        if r.upperBound == Int.max { return "at least \(r.lowerBound) operand\(r.lowerBound == 1 ? "" : "s")" }
        if r.lowerBound == r.upperBound { return "\(r.lowerBound) operand\(r.lowerBound == 1 ? "" : "s")" }
        return "\(r.lowerBound) to \(r.upperBound) operands"
    }

    // MARK: types

    /// `f32[2, 3]`, `i32[]`. Dimensions are non-negative and the element count fits comfortably in an `Int`.
    mutating func tensorType() throws -> TensorType {
        let at = token.offset
        let name = try identifier("a type such as f32[2, 3]")
        guard let dtype = DType(rawValue: name) else {
            throw error(at, "expected a dtype (\(DType.allCases.map(\.rawValue).joined(separator: ", "))), found unknown dtype '\(name)'")
        }
        try take("[", "to open the shape")
        var shape: [Int] = []
        var count = 1
        while !isPunct("]") {
            if !shape.isEmpty { try take(",", "or ']' in the shape") }
            guard case .int(let d) = token.kind else { throw expected("a dimension") }
            guard d >= 0 else { throw error(token.offset, "expected a dimension >= 0, found \(d)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow && product <= attributeIntLimit else {
                throw error(token.offset, "expected a shape with at most 2^53 elements, found dimension \(d) making it larger")
            }
            count = product
            shape.append(d)
            try advance()
        }
        try advance()
        return TensorType(dtype, shape)
    }

    // MARK: attributes

    /// `{key = value, ...}`. With a schema (op attributes) each value is read as its declared kind and unknown or
    /// repeated keys are errors; without one (notes) values are read by their look.
    mutating func attributeDict(schema: [AttrSchema]?, op: String, lens: Value?) throws -> Attributes {
        try take("{")
        var attrs: Attributes = [:]
        while !isPunct("}") {
            if !attrs.isEmpty { try take(",", "or '}' between attributes") }
            let keyAt = token.offset
            let key: String
            switch token.kind {
            case .identifier(let k), .string(let k): key = k
            default: throw expected("an attribute name")
            }
            if attrs[key] != nil { throw error(keyAt, "expected each attribute once, found '\(key)' again") }
            var kind: AttrKind?
            if let schema {
                guard let s = schema.first(where: { $0.name == key }) else {
                    let names = schema.isEmpty ? "no attributes" : "one of " + schema.map(\.name).joined(separator: ", ")
                    throw error(keyAt, "expected \(names) for \(op), found unknown attribute '\(key)'")
                }
                kind = s.kind
            }
            try advance()
            try take("=", "after attribute '\(key)'")
            attrs[key] = try attributeValue(kind, key: key, op: op, lens: lens)
        }
        try advance()
        return attrs
    }

    mutating func int(_ what: @autoclosure () -> String) throws -> Int {
        guard case .int(let i) = token.kind else { throw expected(what()) }
        guard i.magnitude <= attributeIntLimit else {
            throw error(token.offset, "expected \(what()) of magnitude at most 2^53, found \(i)")
        }
        try advance()
        return i
    }

    /// A float literal; integers, `inf`, `-inf` and `nan` are accepted too.
    mutating func number(_ what: @autoclosure () -> String) throws -> Double {
        let d: Double
        switch token.kind {
        case .float(let f): d = f
        case .int(let i): d = Double(i)
        case .identifier("inf"): d = .infinity
        case .identifier("nan"): d = .nan
        default: throw expected(what())
        }
        try advance()
        return d
    }

    mutating func attributeValue(_ kind: AttrKind?, key: String, op: String, lens: Value?) throws -> AttrValue {
        let at = token.offset
        let what = "attribute '\(key)'"
        switch kind {
        case nil: return try untypedValue(what)
        case .int?: return .int(try int("an integer for \(what)"))
        case .float?:
            if case .int = token.kind { return .int(try int("a number for \(what)")) }
            return .float(try number("a number for \(what)"))
        case .bool?:
            switch token.kind {
            case .identifier("true"): try advance(); return .bool(true)
            case .identifier("false"): try advance(); return .bool(false)
            default: throw expected("true or false for \(what)")
            }
        case .ints?: return .ints(try list("an integer list for \(what)") { try $0.int("an integer in \(what)") })
        case .floats?: return .floats(try list("a number list for \(what)") { try $0.number("a number in \(what)") })
        case .string?: return .string(try string("a string for \(what)"))
        case .symbol(let allowed)?:
            let s = try identifier("one of \(allowed.joined(separator: ", ")) for \(what)")
            guard allowed.contains(s) else {
                throw error(at, "expected one of \(allowed.joined(separator: ", ")) for \(what), found '\(s)'")
            }
            return .symbol(s)
        case .dtype?:
            let s = try identifier("a dtype for \(what)")
            guard let d = DType(rawValue: s) else {
                throw error(at, "expected a dtype (\(DType.allCases.map(\.rawValue).joined(separator: ", "))) for \(what), found unknown dtype '\(s)'")
            }
            return .dtype(d)
        case .mask?: return .mask(try mask(op: op, lens: lens))
        case .initializer?: return .initializer(try initializer())
        }
    }

    /// `[a, b, ...]` with `element` reading each entry. The entries' product must not overflow (reshape multiplies them).
    mutating func list<T>(_ what: @autoclosure () -> String, _ element: (inout Parser) throws -> T) throws -> [T] {
        guard isPunct("[") else { throw expected(what()) }
        let at = token.offset
        try advance()
        var items: [T] = []
        while !isPunct("]") {
            if !items.isEmpty { try take(",", "or ']' in the list") }
            items.append(try element(&self))
        }
        try advance()
        if let ints = items as? [Int] {
            var product = 1
            for i in ints {
                let (p, overflow) = product.multipliedReportingOverflow(by: Swift.max(1, Int(i.magnitude)))
                guard !overflow else { throw error(at, "expected integers whose product fits in 64 bits, found \(ints)") }
                product = p
            }
        }
        return items
    }

    /// A note value, read by its look: numbers, strings, booleans, lists, dtypes, other bare words as symbols.
    mutating func untypedValue(_ what: String) throws -> AttrValue {
        switch token.kind {
        case .int: return .int(try int("an integer for \(what)"))
        case .float: return .float(try number(what))
        case .string(let s): try advance(); return .string(s)
        case .identifier("true"): try advance(); return .bool(true)
        case .identifier("false"): try advance(); return .bool(false)
        case .identifier("inf"), .identifier("nan"): return .float(try number(what))
        case .identifier(let s):
            try advance()
            return DType(rawValue: s).map(AttrValue.dtype) ?? .symbol(s)
        case .punct(UInt8(ascii: "[")):
            let items = try list("a list for \(what)") { p -> AttrValue in
                switch p.token.kind {
                case .int: return .int(try p.int("an integer in \(what)"))
                default: return .float(try p.number("a number in \(what)"))
                }
            }
            let ints = items.compactMap { if case .int(let i) = $0 { return i } else { return nil } }
            if ints.count == items.count { return .ints(ints) }
            return .floats(items.map { v -> Double in
                switch v {
                case .int(let i): return Double(i)
                case .float(let d): return d
                default: return 0
                }
            })
        default: throw expected("a value for \(what)")
        }
    }

    /// `none`, `causal`, `prefix_causal(N)`, `block(N, ...)`, each optionally `& padding(%lens)`, or `padding(%lens)`.
    /// `%lens` must be the operand right after the op's required ones (attention: operand 3, attention_probs: 2),
    /// where the op reads the key lengths.
    mutating func mask(op: String, lens expectedLens: Value?) throws -> AttentionMask {
        var m = AttentionMask()
        var sawPattern = false
        repeat {
            if sawPattern || m.keyPadding { try advance() }   // the '&'
            let at = token.offset
            let word = try identifier("a mask (none, causal, prefix_causal(N), block(N, ...), padding(%lens))")
            switch word {
            case "padding":
                if m.keyPadding { throw error(at, "expected padding at most once in a mask, found it again") }
                try take("(", "after padding")
                let lensAt = token.offset
                let lens = try valueUse("naming the key-length operand")
                guard lens == expectedLens else {
                    let wanted = expectedLens.map { "the lens operand of \(op) (\($0))" } ?? "a lens operand, which this \(op) lacks"
                    throw error(lensAt, "expected padding to name \(wanted), found \(lens)")
                }
                try take(")", "after the lens value")
                m.keyPadding = true
            case "none", "causal", "prefix_causal", "block":
                if sawPattern { throw error(at, "expected one mask pattern, found a second one '\(word)'") }
                sawPattern = true
                m.pattern = try maskPattern(word, at: at)
            default:
                throw error(at, "expected a mask (none, causal, prefix_causal(N), block(N, ...), padding(%lens)), found '\(word)'")
            }
        } while isPunct("&")
        return m
    }

    mutating func maskPattern(_ word: String, at: Int) throws -> MaskPattern {
        switch word {
        case "none": return .none
        case "causal": return .causal
        case "prefix_causal":
            try take("(", "after prefix_causal")
            let n = try int("the prefix length")
            try take(")", "after the prefix length")
            return .prefixCausal(n)
        default:
            try take("(", "after block")
            var sizes: [Int] = []
            var total = 0
            while !isPunct(")") {
                if !sizes.isEmpty { try take(",", "or ')' between block sizes") }
                let sizeAt = token.offset
                let s = try int("a block size")
                let (sum, overflow) = total.addingReportingOverflow(s)
                guard !overflow else { throw error(sizeAt, "expected block sizes whose sum fits in 64 bits, found \(s)") }
                total = sum
                sizes.append(s)
            }
            try advance()
            return .block(sizes)
        }
    }

    /// `zeros`, `ones`, `constant(c)`, `normal(std)`, `truncated_normal(std)`, `uniform(low, high)`.
    mutating func initializer() throws -> Initializer {
        let at = token.offset
        let word = try identifier("an initializer (zeros, ones, constant(c), normal(std), truncated_normal(std), uniform(low, high))")
        func arguments(_ p: inout Parser, _ n: Int) throws -> [Double] {
            try p.take("(", "after \(word)")
            var xs: [Double] = []
            for i in 0..<n {
                if i > 0 { try p.take(",", "between the arguments of \(word)") }
                xs.append(try p.number("a number argument of \(word)"))
            }
            try p.take(")", "after the \(n == 1 ? "argument" : "arguments") of \(word)")
            return xs
        }
        switch word {
        case "zeros": return .zeros
        case "ones": return .ones
        case "constant": return .constant(try arguments(&self, 1)[0])
        case "normal": return .normal(std: try arguments(&self, 1)[0])
        case "truncated_normal": return .truncatedNormal(std: try arguments(&self, 1)[0])
        case "uniform":
            let xs = try arguments(&self, 2)
            return .uniform(low: xs[0], high: xs[1])
        default:
            throw error(at, "expected an initializer (zeros, ones, constant(c), normal(std), truncated_normal(std), uniform(low, high)), found '\(word)'")
        }
    }
}
