import Foundation

/// A parsed JSON value. Integers that fit in `Int` stay exact (safetensors offsets need all 64 bits).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int? { if case .integer(let i) = self { return i } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// Name of the JSON kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON object that keeps its keys in file order (safetensors and tokenizer files are read in order).
public struct JSONObject: Equatable, Sendable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: JSONValue] = [:]

    public init() {}
    public subscript(key: String) -> JSONValue? { values[key] }
    public var count: Int { keys.count }

    /// Adds a key; returns false when it is already present (duplicate keys are an error in our formats).
    mutating func insert(_ key: String, _ value: JSONValue) -> Bool {
        if values[key] != nil { return false }
        keys.append(key)
        values[key] = value
        return true
    }
}

/// A strict RFC 8259 JSON parser over bytes. Errors give the byte offset; nesting depth is bounded so a
/// hostile file cannot overflow the stack; duplicate object keys are rejected.
public struct JSONParser {
    public static let maxDepth = 256

    /// Parses a whole document; `context` (e.g. a file name) prefixes error messages.
    public static func parse(_ bytes: UnsafeRawBufferPointer, context: String) throws -> JSONValue {
        var p = JSONParser(bytes: bytes.bindMemory(to: UInt8.self), context: context)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i < p.b.count { throw p.error("unexpected \(p.describe(p.b[p.i])) after the JSON value") }
        return v
    }

    /// Parses bytes; `context` prefixes error messages.
    public static func parse(_ data: [UInt8], context: String) throws -> JSONValue {
        try data.withUnsafeBytes { try parse($0, context: context) }
    }

    /// Parses a string; `context` prefixes error messages.
    public static func parse(_ text: String, context: String) throws -> JSONValue {
        try parse(Array(text.utf8), context: context)
    }

    /// Reads and parses a file.
    public static func parse(fileAt path: String) throws -> JSONValue {
        try parse(readFile(path), context: path)
    }

    let b: UnsafeBufferPointer<UInt8>
    let context: String
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>, context: String) {
        self.b = bytes
        self.context = context
    }

    func error(_ what: String, at pos: Int? = nil) -> GraphIOError {
        GraphIOError(.json, "\(context): byte \(pos ?? i): \(what)")
    }

    func describe(_ c: UInt8) -> String {
        (c >= 0x20 && c < 0x7f) ? "'\(Character(UnicodeScalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard i < b.count else { throw error("unexpected end of input, expected \(what)") }
        guard b[i] == c else { throw error("expected \(what), found \(describe(b[i]))") }
        i += 1
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        guard i < b.count else { throw error("unexpected end of input, expected a value") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw error("unexpected end of input inside an array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("expected a value, found \(describe(b[i]))")
        }
    }

    mutating func object(depth: Int) throws -> JSONValue {
        i += 1
        var obj = JSONObject()
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipSpace()
            let keyPos = i
            guard i < b.count, b[i] == UInt8(ascii: "\"") else {
                throw error(i < b.count ? "expected a string key, found \(describe(b[i]))" : "unexpected end of input, expected a key")
            }
            let key = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"), "':'")
            skipSpace()
            let v = try value(depth: depth + 1)
            guard obj.insert(key, v) else { throw error("duplicate key \"\(key)\"", at: keyPos) }
            skipSpace()
            guard i < b.count else { throw error("unexpected end of input inside an object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(obj)
        }
    }

    mutating func literal(_ word: String) throws {
        for c in word.utf8 {
            guard i < b.count, b[i] == c else { throw error("invalid literal, expected \(word)") }
            i += 1
        }
    }

    mutating func number() throws -> JSONValue {
        let start = i
        var isInteger = true
        if b[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        if i == digitsStart { throw error("invalid number", at: start) }
        if b[digitsStart] == 0x30, i - digitsStart > 1 { throw error("leading zero in number", at: start) }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            let f = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == f { throw error("invalid number: no digits after '.'", at: start) }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            let e = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == e { throw error("invalid number: no exponent digits", at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isInteger, let n = Int(text) { return .integer(n) }
        guard let d = Double(text) else { throw error("invalid number \(text)", at: start) }
        return .number(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        var runStart = i
        while true {
            guard i < b.count else { throw error("unterminated string", at: start) }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
                i += 1
                break
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { i += 1; continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
            i += 1
            guard i < b.count else { throw error("unterminated escape", at: start) }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5c)
            case UInt8(ascii: "/"): out.append(0x2f)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by a \u low surrogate.
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("unpaired low surrogate in \\u escape")
                }
                guard let u = UnicodeScalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape \\\(Character(UnicodeScalar(e)))")
            }
            runStart = i
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8", at: start) }
        return s
    }
}

/// JSON text for a string, with the escapes RFC 8259 requires.
public func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// Reads a whole file into memory; the error names the path.
public func readFile(_ path: String) throws -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else {
        throw GraphIOError(.file, "\(path): cannot read file (missing or unreadable)")
    }
    return [UInt8](d)
}
