// Tokens of the IR text format. The lexer works on UTF-8 bytes (already validated) and is pulled one token at
// a time by `GraphParser`, so the first error in reading order is the one reported.

/// One token with the byte offset where it starts (for `line:col` in errors).
struct TextToken {
    enum Kind: Equatable {
        case identifier(String)
        /// `%name`: the name without the `%`.
        case value(String)
        case int(Int)
        case float(Double)
        case string(String)
        /// One of `{ } ( ) [ ] , = : &`.
        case punct(UInt8)
        case end
    }
    var kind: Kind
    var offset: Int
    /// Where the token's source text ends (exclusive); the text itself is only made for error messages.
    var end: Int

    /// How the token reads in an error message.
    func described(in bytes: [UInt8]) -> String {
        let text = String(decoding: bytes[offset..<end], as: UTF8.self)
        switch kind {
        case .end: return "end of input"
        case .string: return "string \(text.count > 40 ? String(text.prefix(40)) + "...\"" : text)"
        default: return "'\(text.count > 40 ? String(text.prefix(40)) + "..." : text)'"
        }
    }
}

/// Maps byte offsets to `line:col` (1-based; columns count Unicode scalars).
struct SourcePosition {
    let bytes: [UInt8]

    func lineColumn(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    func error(_ offset: Int, _ message: String) -> GraphError {
        let (l, c) = lineColumn(offset)
        return GraphError(.parse, "\(l):\(c): \(message)")
    }
}

struct TextLexer {
    let bytes: [UInt8]
    var index = 0
    let position: SourcePosition

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = SourcePosition(bytes: bytes)
    }

    private func peekByte(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func isLetter(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || b == UInt8(ascii: "_")
    }
    private static func isPunct(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "&"): return true
        default: return false
        }
    }
    private static func isNameByte(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) || b == UInt8(ascii: ".") }

    private func text(_ from: Int) -> String { String(decoding: bytes[from..<index], as: UTF8.self) }

    private mutating func skipTrivia() {
        while let b = peekByte() {
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                index += 1
            } else if b == UInt8(ascii: "#") || (b == UInt8(ascii: "/") && peekByte(1) == UInt8(ascii: "/")) {
                while let c = peekByte(), c != UInt8(ascii: "\n") { index += 1 }
            } else {
                return
            }
        }
    }

    mutating func next() throws -> TextToken {
        skipTrivia()
        let start = index
        guard let b = peekByte() else { return TextToken(kind: .end, offset: start, end: start) }
        if Self.isPunct(b) {
            index += 1
            return TextToken(kind: .punct(b), offset: start, end: index)
        }
        if b == UInt8(ascii: "%") {
            index += 1
            while let c = peekByte(), Self.isNameByte(c) { index += 1 }
            guard index > start + 1 else {
                throw position.error(start, "expected a value name after '%', found \(describeByte(at: index))")
            }
            return TextToken(kind: .value(text(start + 1)), offset: start, end: index)
        }
        if Self.isLetter(b) {
            while let c = peekByte(), Self.isNameByte(c) { index += 1 }
            return TextToken(kind: .identifier(text(start)), offset: start, end: index)
        }
        if b == UInt8(ascii: "\"") { return try string() }
        if Self.isDigit(b) || ((b == UInt8(ascii: "-") || b == UInt8(ascii: "+")) && peekByte(1).map(Self.isDigit) == true) {
            return try number()
        }
        if b == UInt8(ascii: "-"), bytes[index...].starts(with: "-inf".utf8), !(peekByte(4).map(Self.isNameByte) ?? false) {
            index += 4
            return TextToken(kind: .float(-.infinity), offset: start, end: index)
        }
        throw position.error(start, "expected a token, found \(describeByte(at: start))")
    }

    /// The character at `offset` for an error message (a whole UTF-8 sequence, or a named control byte).
    private func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let b = bytes[offset]
        if b < 0x20 || b == 0x7F { return "control character U+\(String(format4(b)))" }
        var end = offset + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 && end < offset + 4 { end += 1 }
        return "'\(String(decoding: bytes[offset..<end], as: UTF8.self))'"
    }

    private func format4(_ b: UInt8) -> String {
        let h = String(b, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - h.count) + h
    }

    private mutating func number() throws -> TextToken {
        let start = index
        if peekByte() == UInt8(ascii: "-") || peekByte() == UInt8(ascii: "+") { index += 1 }
        while let c = peekByte(), Self.isDigit(c) { index += 1 }
        var isFloat = false
        if peekByte() == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            guard let c = peekByte(), Self.isDigit(c) else {
                throw position.error(index, "expected a digit after '.' in number \(text(start)), found \(describeByte(at: index))")
            }
            while let c = peekByte(), Self.isDigit(c) { index += 1 }
        }
        if peekByte() == UInt8(ascii: "e") || peekByte() == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if peekByte() == UInt8(ascii: "-") || peekByte() == UInt8(ascii: "+") { index += 1 }
            guard let c = peekByte(), Self.isDigit(c) else {
                throw position.error(index, "expected exponent digits in number \(text(start)), found \(describeByte(at: index))")
            }
            while let c = peekByte(), Self.isDigit(c) { index += 1 }
        }
        if let c = peekByte(), Self.isLetter(c) {
            throw position.error(index, "expected a separator after number \(text(start)), found \(describeByte(at: index))")
        }
        let t = text(start)
        if isFloat {
            guard let d = Double(t) else { throw position.error(start, "expected a number, found '\(t)'") }
            return TextToken(kind: .float(d), offset: start, end: index)
        }
        guard let i = Int(t) else {
            throw position.error(start, "expected an integer that fits in 64 bits, found '\(t)'")
        }
        return TextToken(kind: .int(i), offset: start, end: index)
    }

    private mutating func string() throws -> TextToken {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            guard let b = peekByte() else {
                throw position.error(index, "expected '\"' to close the string opened at \(lineColumnText(start)), found end of input")
            }
            if b == UInt8(ascii: "\n") {
                throw position.error(index, "expected '\"' to close the string opened at \(lineColumnText(start)), found end of line")
            }
            index += 1
            if b == UInt8(ascii: "\"") { break }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            guard let e = peekByte() else {
                throw position.error(index, "expected an escape after '\\', found end of input")
            }
            index += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
            case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
            case UInt8(ascii: "u"):
                out += Array(String(try unicodeEscape()).utf8)
            default:
                throw position.error(index - 2, "expected one of \\\" \\\\ \\n \\t \\r \\u{...}, found \(describeEscape(index - 2))")
            }
        }
        return TextToken(kind: .string(String(decoding: out, as: UTF8.self)), offset: start, end: index)
    }

    private func describeEscape(_ at: Int) -> String {
        "'\\" + (at + 1 < bytes.count ? describeByte(at: at + 1).trimmingQuotes : "") + "'"
    }

    /// `\u{1F600}` after the `\u` has been read.
    private mutating func unicodeEscape() throws -> Unicode.Scalar {
        let start = index - 2
        guard peekByte() == UInt8(ascii: "{") else {
            throw position.error(index, "expected '{' after \\u, found \(describeByte(at: index))")
        }
        index += 1
        let digitsStart = index
        while let c = peekByte(), c != UInt8(ascii: "}"), index - digitsStart < 9 { index += 1 }
        let hex = text(digitsStart)
        guard peekByte() == UInt8(ascii: "}"), let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else {
            throw position.error(start, "expected \\u{HEX} naming a Unicode scalar, found '\\u{\(hex)'")
        }
        index += 1
        return scalar
    }

    private func lineColumnText(_ offset: Int) -> String {
        let (l, c) = position.lineColumn(offset)
        return "\(l):\(c)"
    }
}

private extension String {
    var trimmingQuotes: String {
        hasPrefix("'") && hasSuffix("'") && count >= 2 ? String(dropFirst().dropLast()) : self
    }
}
