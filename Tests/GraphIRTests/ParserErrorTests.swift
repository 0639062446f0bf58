import Foundation
import Testing
@testable import GraphIR

/// A small valid graph; the malformed inputs below are edits of it.
let validText = """
graph "mlp" {
  %x = input {name = "x"} : f32[4, 8]
  %w = parameter {init = normal(0.02), name = "fc1.weight", role = trainable} : f32[16, 8]
  %h = matmul(%x, %w) {transpose_b = true} : f32[4, 16] scope "fc1"
  %s = reduce_sum(%h) {axes = [0, 1]} : f32[] scope "loss"
  output "loss" = %s
  update "fc1.weight" = %w
}
"""

/// One malformed input and what its error must say.
struct MalformedCase: CustomTestStringConvertible {
    var name: String
    var text: String
    /// `line:col` that must start the message.
    var position: String
    /// Words the message must contain.
    var mentions: [String]
    var testDescription: String { name }
}

/// Replaces the first occurrence of `of` in the valid graph.
func edit(_ of: String, _ with: String) -> String {
    guard let r = validText.range(of: of) else { return "<edit target \(of) missing>" }
    return validText.replacingCharacters(in: r, with: with)
}

let malformedCorpus: [MalformedCase] = [
    MalformedCase(name: "empty", text: "", position: "1:1", mentions: ["expected 'graph'", "found end of input"]),
    MalformedCase(name: "truncated after header", text: "graph \"g\" {", position: "1:12", mentions: ["expected a node", "found end of input"]),
    MalformedCase(name: "truncated mid node", text: String(validText.prefix(48)), position: "2:35",
                  mentions: ["expected a dimension", "found end of input"]),
    MalformedCase(name: "truncated mid string", text: String(validText.prefix(37)), position: "2:24",
                  mentions: ["expected '\"' to close the string opened at 2:22", "found end of input"]),
    MalformedCase(name: "truncated before closing brace", text: String(validText.dropLast(2)), position: "7:27",
                  mentions: ["expected a node", "'}'", "found end of input"]),
    MalformedCase(name: "unknown op", text: edit("matmul(", "matmull("), position: "4:8",
                  mentions: ["expected an op name", "found unknown op 'matmull'"]),
    MalformedCase(name: "wrong arity", text: edit("matmul(%x, %w)", "matmul(%x, %w, %x)"), position: "4:14",
                  mentions: ["expected 2 operands for matmul", "found 3"]),
    MalformedCase(name: "wrong arity for a leaf", text: edit("  update", "  %y = input(%h) {name = \"y\"} : f32[4, 16]\n  update"),
                  position: "7:13", mentions: ["expected 0 operands for input", "found 1"]),
    MalformedCase(name: "type mismatch", text: edit(": f32[4, 16]", ": f32[4, 8]"), position: "4:46",
                  mentions: ["expected type f32[4, 16]", "inferred for matmul", "found f32[4, 8]"]),
    MalformedCase(name: "dtype mismatch", text: edit(": f32[4, 16]", ": f64[4, 16]"), position: "4:46",
                  mentions: ["expected type f32[4, 16]", "found f64[4, 16]"]),
    MalformedCase(name: "invalid operands", text: edit("{transpose_b = true}", "{transpose_b = false}"), position: "4:8",
                  mentions: ["expected a valid matmul", "found: contraction sizes differ"]),
    MalformedCase(name: "unknown attribute", text: edit("transpose_b = true", "transpose_c = true"), position: "4:24",
                  mentions: ["expected one of transpose_a, transpose_b for matmul", "found unknown attribute 'transpose_c'"]),
    MalformedCase(name: "attribute of wrong kind", text: edit("transpose_b = true", "transpose_b = 1"), position: "4:38",
                  mentions: ["expected true or false for attribute 'transpose_b'", "found '1'"]),
    MalformedCase(name: "missing attribute", text: edit(" {axes = [0, 1]}", ""), position: "5:23",
                  mentions: ["expected attribute 'axes' for reduce_sum", "found none"]),
    MalformedCase(name: "repeated attribute", text: edit("{axes = [0, 1]}", "{axes = [0, 1], axes = [0]}"), position: "5:39",
                  mentions: ["expected each attribute once", "found 'axes' again"]),
    MalformedCase(name: "bad symbol", text: edit("role = trainable", "role = trained"), position: "3:68",
                  mentions: ["expected one of trainable, frozen, state for attribute 'role'", "found 'trained'"]),
    MalformedCase(name: "bad initializer", text: edit("normal(0.02)", "gaussian(0.02)"), position: "3:26",
                  mentions: ["expected an initializer", "found 'gaussian'"]),
    MalformedCase(name: "initializer arity", text: edit("normal(0.02)", "normal(0.02, 1.0)"), position: "3:37",
                  mentions: ["expected ')' after the argument of normal", "found ','"]),
    MalformedCase(name: "attribute no values", text: edit("{name = \"x\"}", "{name = }"), position: "2:22",
                  mentions: ["expected a string for attribute 'name'", "found '}'"]),
    MalformedCase(name: "duplicate value name", text: edit("%h = matmul", "%x = matmul"), position: "4:3",
                  mentions: ["expected a new value name", "found %x already defined at 2:3"]),
    MalformedCase(name: "use before definition", text: edit("reduce_sum(%h)", "reduce_sum(%later)"), position: "5:19",
                  mentions: ["expected a value defined before this use", "found undefined value %later"]),
    MalformedCase(name: "duplicate parameter name",
                  text: edit("  %h = ", "  %w2 = parameter {name = \"fc1.weight\", role = frozen} : f32[1]\n  %h = "),
                  position: "4:19", mentions: ["expected a unique parameter name", "found \"fc1.weight\" already used at 3:18"]),
    MalformedCase(name: "duplicate input name", text: edit("  %w = ", "  %x2 = input {name = \"x\"} : f32[1]\n  %w = "), position: "3:15",
                  mentions: ["expected a unique input name", "found \"x\" already used at 2:14"]),
    MalformedCase(name: "unknown dtype", text: edit(": f32[4, 8]", ": f16[4, 8]"), position: "2:29",
                  mentions: ["expected a dtype (f32, f64, i32, bool)", "found unknown dtype 'f16'"]),
    MalformedCase(name: "negative dimension", text: edit(": f32[4, 8]", ": f32[4, -8]"), position: "2:36",
                  mentions: ["expected a dimension >= 0", "found -8"]),
    MalformedCase(name: "huge shape", text: edit(": f32[4, 8]", ": f32[4000000000, 4000000000]"), position: "2:45",
                  mentions: ["expected a shape with at most 2^53 elements", "found dimension 4000000000"]),
    MalformedCase(name: "integer overflow", text: edit("[0, 1]", "[0, 99999999999999999999]"), position: "5:35",
                  mentions: ["expected an integer that fits in 64 bits", "found '99999999999999999999'"]),
    MalformedCase(name: "reshape product overflow", text: edit("reduce_sum(%h) {axes = [0, 1]} : f32[]", "reshape(%h) {shape = [4194304, 4194304, 4194304]} : f32[64]"),
                  position: "5:29", mentions: ["expected integers whose product fits in 64 bits", "found [4194304, 4194304, 4194304]"]),
    MalformedCase(name: "update of unknown parameter", text: edit("update \"fc1.weight\"", "update \"fc2.weight\""), position: "7:10",
                  mentions: ["expected the name of a parameter defined above", "found \"fc2.weight\""]),
    MalformedCase(name: "update of wrong type", text: edit("\"fc1.weight\" = %w", "\"fc1.weight\" = %h"), position: "7:25",
                  mentions: ["expected a value of the parameter's type f32[16, 8]", "found %2 of type f32[4, 16]"]),
    MalformedCase(name: "duplicate output", text: edit("  update", "  output \"loss\" = %h\n  update"), position: "7:10",
                  mentions: ["expected a new output name", "found duplicate output \"loss\""]),
    MalformedCase(name: "padding names the wrong value", text: """
        graph "a" {
          %q = input {name = "q"} : f32[1, 1, 2, 4]
          %lens = input {name = "lens"} : i32[1]
          %y = attention(%q, %q, %q, %lens) {mask = causal & padding(%q), scale = 0.5} : f32[1, 1, 2, 4]
        }
        """, position: "4:62", mentions: ["expected padding to name the lens operand of attention (%1)", "found %0"]),
    MalformedCase(name: "mask with two patterns", text: """
        graph "a" {
          %q = input {name = "q"} : f32[1, 1, 2, 4]
          %y = attention(%q, %q, %q) {mask = causal & block(2), scale = 0.5} : f32[1, 1, 2, 4]
        }
        """, position: "3:47", mentions: ["expected one mask pattern", "found a second one 'block'"]),
    MalformedCase(name: "bad mask word", text: """
        graph "a" {
          %q = input {name = "q"} : f32[1, 1, 2, 4]
          %y = attention(%q, %q, %q) {mask = sliding(4), scale = 0.5} : f32[1, 1, 2, 4]
        }
        """, position: "3:38", mentions: ["expected a mask", "found 'sliding'"]),
    MalformedCase(name: "garbage", text: "\u{1}\u{2}binary junk", position: "1:1",
                  mentions: ["expected a token", "found control character U+0001"]),
    MalformedCase(name: "garbage after graph", text: validText + "\nextra", position: "9:1",
                  mentions: ["expected end of input after the graph's closing '}'", "found 'extra'"]),
    MalformedCase(name: "stray character", text: edit("= matmul", "= @matmul"), position: "4:8",
                  mentions: ["expected a token", "found '@'"]),
    MalformedCase(name: "bad escape", text: edit("\"x\"", "\"x\\q\""), position: "2:24",
                  mentions: ["expected one of", "found '\\q'"]),
    MalformedCase(name: "string across lines", text: edit("\"x\"", "\"x\n\""), position: "2:24",
                  mentions: ["expected '\"' to close the string opened at 2:22", "found end of line"]),
    MalformedCase(name: "bad number", text: edit("0.02", "0.02x"), position: "3:37",
                  mentions: ["expected a separator after number 0.02", "found 'x'"]),
    MalformedCase(name: "missing type", text: edit(" : f32[4, 16]", ""), position: "4:44",
                  mentions: ["expected ':' before the result type", "found 'scope'"]),
    MalformedCase(name: "bad location", text: edit("scope \"fc1\"", "scope \"fc1\" loc \"nowhere\""), position: "4:73",
                  mentions: ["expected a location \"File.swift:LINE\"", "found \"nowhere\""]),
    MalformedCase(name: "repeated scope", text: edit("scope \"fc1\"", "scope \"fc1\" scope \"fc2\""), position: "4:69",
                  mentions: ["expected one 'scope' per node", "found a second one"]),
    MalformedCase(name: "missing graph header", text: "%x = input {name = \"x\"} : f32[1]", position: "1:1",
                  mentions: ["expected 'graph'", "found '%x'"]),
]

@Suite struct ParserErrorTests {
    @Test func theValidBaseParses() throws {
        let g = try GraphParser.parse(validText)
        try Verifier.verify(g)
        #expect(g.nodes.count == 4)
    }

    @Test(arguments: malformedCorpus)
    func malformedInputGetsItsOwnError(_ c: MalformedCase) {
        do {
            _ = try GraphParser.parse(c.text)
            Issue.record("\(c.name): parsed without error")
        } catch let e as GraphError {
            #expect(e.kind == .parse)
            #expect(e.message.hasPrefix(c.position + ": "), "\(c.name): \(e.message)")
            for m in c.mentions { #expect(e.message.contains(m), "\(c.name): '\(m)' not in: \(e.message)") }
        } catch {
            Issue.record("\(c.name): unexpected error type \(error)")
        }
    }

    @Test func errorsAreDistinct() {
        var messages: Set<String> = []
        for c in malformedCorpus {
            do {
                _ = try GraphParser.parse(c.text)
            } catch {
                messages.insert("\(error)")
            }
        }
        #expect(messages.count == malformedCorpus.count)
    }

    @Test func nonUTF8BytesReportTheOffset() throws {
        var bytes = Array(validText.utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "m"))!   // inside the "mlp" name on line 1
        bytes.insert(0xFF, at: at)
        #expect(throws: GraphError(.parse, "1:8: expected UTF-8 text, found invalid byte 0xFF at byte offset 7")) {
            try GraphParser.parse(bytes)
        }
        let truncatedSequence = Array("graph \"é".utf8.dropLast())
        #expect(throws: GraphError(.parse, "1:8: expected UTF-8 text, found invalid byte 0xC3 at byte offset 7")) {
            try GraphParser.parse(data: Data(truncatedSequence))
        }
        // Valid UTF-8 bytes parse like the string.
        let g = try GraphParser.parse(Array(validText.utf8))
        #expect(GraphPrinter.print(g) == GraphPrinter.print(try GraphParser.parse(validText)))
    }

    /// Every prefix and many single-byte corruptions of a real graph must give a parse error, never a crash.
    @Test func prefixesAndCorruptionsNeverCrash() throws {
        let text = GraphPrinter.print(try everyOpGraph(), locations: true)
        let bytes = Array(text.utf8)
        var errors = 0
        // Every prefix that cuts before the closing "}\n" is incomplete.
        let cuts = Array(stride(from: 0, to: bytes.count - 2, by: 11))
        for n in cuts {
            do { _ = try GraphParser.parse(Array(bytes[..<n])) } catch is GraphError { errors += 1 }
        }
        #expect(errors == cuts.count)
        var rng = SplitMix(seed: 7)
        let noise: [UInt8] = Array("%{}()[],=:&\"#-.0123456789e \nabcxyz_".utf8) + [0x80, 0xC3, 0xFF]
        for _ in 0..<300 {
            var corrupted = bytes
            for _ in 0..<(1 + rng.below(3)) { corrupted[rng.below(corrupted.count)] = noise[rng.below(noise.count)] }
            do { _ = try GraphParser.parse(corrupted) } catch is GraphError {}
        }
    }
}
