import Foundation

/// GPT-2's byte-level BPE (also OPT, RoBERTa, SmolLM/LLaMA-3-style GGUF "gpt2" vocabularies): text is split
/// with GPT-2's pre-tokenization pattern, each piece's UTF-8 bytes are mapped to printable characters
/// (`bytes_to_unicode`), and merges are applied lowest rank first. Added/special tokens written in the text
/// (from `tokenizer.json` or GGUF control tokens) are matched first. Loads from `vocab.json` + `merges.txt`,
/// from a Hugging Face `tokenizer.json`, or from GGUF tokenizer metadata.
public struct ByteLevelBPETokenizer: TextTokenizer {
    public let tokens: [String]
    let ids: [String: Int]
    /// (left id, right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int, merged: Int)]
    /// Byte value → id of its single-character token.
    let byteIDs: [Int]
    /// Bytes without a token of their own (dropped when encoding, as Hugging Face does without an unknown token).
    public var missingBytes: [UInt8] { (0..<256).filter { byteIDs[$0] < 0 }.map(UInt8.init) }
    /// Tokens matched verbatim in input text (and skipped by `decode(skipSpecialTokens: true)`).
    public let specialTokens: [String: Int]
    /// Prepended to every encoding (e.g. a BOS id), if set.
    public var bosID: Int?
    public var padID: Int
    /// Split every numeric character off before the GPT-2 pattern (SmolLM's `Digits(individual_digits)`
    /// pre-tokenizer, llama.cpp's "smollm" pre-tokenizer type).
    public var splitDigits = false
    public var endID: Int? { nil }
    public var vocabularySize: Int { tokens.count }

    /// `tokens[id]`, merges as `"left right"` lines in rank order.
    public init(tokens: [String], merges: [String], specialTokens: [String: Int] = [:], bosID: Int? = nil,
                padID: Int? = nil, source: String) throws {
        var ids: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = i }
        var table: [UInt64: (rank: Int, merged: Int)] = [:]
        for (rank, line) in merges.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw GraphIOError(.tokenizer, "\(source): merge \(rank + 1) \"\(line)\" is not two tokens separated by one space")
            }
            let a = String(parts[0]), b = String(parts[1])
            guard let ia = ids[a], let ib = ids[b], let m = ids[a + b] else {
                throw GraphIOError(.tokenizer, "\(source): merge \(rank + 1) \"\(line)\" uses a token that is not in the vocabulary")
            }
            let key = UInt64(ia) << 32 | UInt64(ib)
            if table[key] == nil { table[key] = (rank, m) }
        }
        // Some vocabularies (SmolLM2) lack a few control bytes; like Hugging Face's BPE without an unknown
        // token, such bytes are left out of the encoding (`missingBytes` lists them).
        let byteIDs = (0..<256).map { ids[String(ByteLevelBPETokenizer.byteToChar[$0])] ?? -1 }
        guard byteIDs.filter({ $0 >= 0 }).count >= 188 else {
            throw GraphIOError(.tokenizer, "\(source): only \(byteIDs.filter { $0 >= 0 }.count) of the 256 byte tokens exist (not a byte-level vocabulary)")
        }
        for (t, i) in specialTokens where i < 0 || i >= tokens.count || tokens[i] != t {
            throw GraphIOError(.tokenizer, "\(source): special token \"\(t)\" has id \(i), which is not that token")
        }
        self.tokens = tokens
        self.ids = ids
        self.merges = table
        self.byteIDs = byteIDs
        self.specialTokens = specialTokens
        self.bosID = bosID
        self.padID = padID ?? specialTokens["<|endoftext|>"] ?? 0
    }

    /// GPT-2/OPT files: `vocab.json` (token → id) and `merges.txt` (`#version` line, then one merge per line).
    public init(vocabJSONPath: String, mergesPath: String) throws {
        guard let obj = try JSONParser.parse(fileAt: vocabJSONPath).objectValue else {
            throw GraphIOError(.tokenizer, "\(vocabJSONPath): expected a JSON object of token → id")
        }
        let tokens = try ByteLevelBPETokenizer.tokenArray(obj, source: vocabJSONPath)
        let text = String(decoding: try readFile(mergesPath), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            .filter { !$0.hasPrefix("#version") }
        try self.init(tokens: tokens, merges: lines, source: mergesPath)
    }

    /// A token → id object as a dense id-indexed array (ids must be 0..<n without gaps).
    static func tokenArray(_ obj: JSONObject, source: String) throws -> [String] {
        var tokens = [String?](repeating: nil, count: obj.count)
        for k in obj.keys {
            guard let i = obj[k]!.intValue, i >= 0, i < obj.count, tokens[i] == nil else {
                throw GraphIOError(.tokenizer, "\(source): token \"\(k)\" has an id that is not a unique integer in 0..<\(obj.count)")
            }
            tokens[i] = k
        }
        return tokens.map { $0! }
    }

    /// Ids of `text` (BOS first when `bosID` is set); special tokens in the text map to their ids.
    public func encode(_ text: String) -> [Int] {
        var out: [Int] = bosID.map { [$0] } ?? []
        for seg in SpecialTokenSplitter.split(text, specials: specialTokens) {
            switch seg {
            case .special(let id): out.append(id)
            case .text(let t):
                for chunk in splitDigits ? ByteLevelBPETokenizer.isolateDigits(t) : [t] {
                    for piece in ByteLevelBPETokenizer.preTokenize(chunk) { out.append(contentsOf: bpe(Array(piece.utf8))) }
                }
            }
        }
        return out
    }

    /// Applies merges to one pre-tokenized piece's bytes.
    func bpe(_ bytes: [UInt8]) -> [Int] {
        var word = bytes.map { byteIDs[Int($0)] }.filter { $0 >= 0 }
        while word.count > 1 {
            var best = Int.max, bestMerged = -1
            for i in 0..<(word.count - 1) {
                if let m = merges[UInt64(word[i]) << 32 | UInt64(word[i + 1])], m.rank < best {
                    best = m.rank
                    bestMerged = m.merged
                }
            }
            if bestMerged < 0 { break }
            var next: [Int] = []
            next.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i + 1 < word.count, let m = merges[UInt64(word[i]) << 32 | UInt64(word[i + 1])], m.rank == best {
                    next.append(bestMerged)
                    i += 2
                } else {
                    next.append(word[i])
                    i += 1
                }
            }
            word = next
        }
        return word
    }

    /// Concatenates token strings, maps characters back to bytes and decodes UTF-8 (invalid sequences become
    /// U+FFFD, as Hugging Face's `errors="replace"`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let specialIDs = Set(specialTokens.values)
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            if specialIDs.contains(id) {
                if !skipSpecialTokens { bytes.append(contentsOf: Array(tokens[id].utf8)) }
                continue
            }
            for u in tokens[id].unicodeScalars {
                if let b = ByteLevelBPETokenizer.charToByte[u] { bytes.append(b) } else { bytes.append(contentsOf: Array(String(u).utf8)) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.
    static let byteToChar: [Unicode.Scalar] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    static let charToByte: [Unicode.Scalar: UInt8] = {
        var d: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// Every numeric scalar (Nd, Nl, No) as its own chunk, the runs between them as chunks.
    static func isolateDigits(_ text: String) -> [String] {
        var out: [String] = []
        var cur = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            switch u.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber:
                if !cur.isEmpty { out.append(String(cur)); cur = String.UnicodeScalarView() }
                out.append(String(u))
            default: cur.append(u)
            }
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    /// GPT-2's pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
    /// written out by hand over Unicode scalars.
    public static func preTokenize(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var out: [String] = []
        var i = 0
        func isL(_ u: Unicode.Scalar) -> Bool {
            switch u.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isN(_ u: Unicode.Scalar) -> Bool {
            switch u.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func isS(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace }
        func isOther(_ u: Unicode.Scalar) -> Bool { !isS(u) && !isL(u) && !isN(u) }
        func emit(_ a: Int, _ b: Int) { out.append(String(String.UnicodeScalarView(s[a..<b]))) }
        while i < s.count {
            // Contractions.
            if s[i] == "'", i + 1 < s.count {
                let c = s[i + 1]
                if c == "s" || c == "t" || c == "m" || c == "d" { emit(i, i + 2); i += 2; continue }
                if i + 2 < s.count {
                    let pair = String(String.UnicodeScalarView([c, s[i + 2]]))
                    if pair == "re" || pair == "ve" || pair == "ll" { emit(i, i + 3); i += 3; continue }
                }
            }
            let start = i
            let lead = s[i] == " " && i + 1 < s.count ? 1 : 0
            for cls in [isL, isN, isOther] {
                if cls(s[i + lead]) {
                    var j = i + lead
                    while j < s.count, cls(s[j]) { j += 1 }
                    emit(start, j)
                    i = j
                    break
                }
            }
            if i != start { continue }
            // Whitespace: the whole run if it ends the text or is followed by more whitespace; otherwise all
            // but its last character (which then prefixes the next word), or the single character.
            var j = i
            while j < s.count, isS(s[j]) { j += 1 }
            if j == s.count || j - i == 1 {
                emit(i, j)
                i = j
            } else {
                emit(i, j - 1)
                i = j - 1
            }
        }
        return out
    }
}
