import Foundation

/// BERT's WordPiece tokenizer, as Hugging Face's fast `BertTokenizer` with `bert-base-uncased` settings:
/// clean text (drop NUL, U+FFFD and control/format characters, map whitespace to spaces), spaces around CJK
/// ideographs, accent stripping (NFD, drop non-spacing marks) and lower-casing, split on whitespace and
/// punctuation, then greedy longest-match WordPiece with `##` continuations (words longer than 100
/// characters, or with an unmatchable piece, become `[UNK]`). Special tokens written in the text are
/// recognised. BLIP-2's Q-Former adds `[DEC]` (the decoder's start token) with id = vocabulary size.
public struct BertTokenizer: TextTokenizer {
    public let vocab: [String]
    let ids: [String: Int]
    public let lowercase: Bool
    public let maxInputCharsPerWord: Int
    public let unkID: Int, clsID: Int, sepID: Int, padID: Int, maskID: Int
    /// BLIP-2's added `[DEC]` token: its id when the vocabulary already lists it (a saved BLIP-2 tokenizer),
    /// otherwise `vocab.count`, as `tokenizer.add_special_tokens({"bos_token": "[DEC]"})` assigns.
    public let decoderStartID: Int
    /// Ids in use, including `[DEC]`.
    public var vocabularySize: Int { max(vocab.count, decoderStartID + 1) }
    public var endID: Int? { sepID }
    let specials: [String: Int]

    /// Loads `vocab.txt` (one token per line; the line number is the id).
    public init(vocabPath: String, lowercase: Bool = true) throws {
        let text = String(decoding: try readFile(vocabPath), as: UTF8.self)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(vocab: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, lowercase: lowercase, source: vocabPath)
    }

    /// From tokens in id order; `[PAD] [UNK] [CLS] [SEP] [MASK]` must be present, duplicates are an error naming the lines.
    public init(vocab: [String], lowercase: Bool = true, maxInputCharsPerWord: Int = 100, source: String = "vocabulary") throws {
        var ids: [String: Int] = [:]
        for (i, t) in vocab.enumerated() {
            if let j = ids[t] {
                throw GraphIOError(.tokenizer, "\(source): line \(i + 1): token \"\(t)\" already on line \(j + 1)")
            }
            ids[t] = i
        }
        func need(_ t: String) throws -> Int {
            guard let i = ids[t] else { throw GraphIOError(.tokenizer, "\(source): special token \(t) is missing") }
            return i
        }
        self.vocab = vocab
        self.ids = ids
        self.lowercase = lowercase
        self.maxInputCharsPerWord = maxInputCharsPerWord
        unkID = try need("[UNK]")
        clsID = try need("[CLS]")
        sepID = try need("[SEP]")
        padID = try need("[PAD]")
        maskID = try need("[MASK]")
        decoderStartID = ids["[DEC]"] ?? vocab.count
        specials = ["[UNK]": unkID, "[CLS]": clsID, "[SEP]": sepID, "[PAD]": padID, "[MASK]": maskID, "[DEC]": decoderStartID]
    }

    /// `[CLS] tokens [SEP]`.
    public func encode(_ text: String) -> [Int] { [clsID] + tokenIDs(text) + [sepID] }

    /// Ids without `[CLS]`/`[SEP]`.
    public func tokenIDs(_ text: String) -> [Int] {
        var out: [Int] = []
        for seg in SpecialTokenSplitter.split(text, specials: specials) {
            switch seg {
            case .special(let id): out.append(id)
            case .text(let t):
                for word in preTokenize(normalize(t)) { out.append(contentsOf: wordPiece(word)) }
            }
        }
        return out
    }

    /// Token strings without special tokens (for inspection).
    public func tokenize(_ text: String) -> [String] { tokenIDs(text).map { token(for: $0) } }

    /// The token string of an id (`[DEC]` for the added decoder token, `[UNK]` for ids out of range).
    public func token(for id: Int) -> String {
        if id == decoderStartID { return "[DEC]" }
        return id >= 0 && id < vocab.count ? vocab[id] : "[UNK]"
    }

    /// BertNormalizer: clean text, CJK spacing, strip accents, lower-case.
    func normalize(_ text: String) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.value == 0 || u.value == 0xFFFD || UnicodeClasses.isControl(u) { continue }
            if UnicodeClasses.isBertWhitespace(u) {
                cleaned.append(" ")
            } else if UnicodeClasses.isCJK(u) {
                cleaned.append(" ")
                cleaned.append(u)
                cleaned.append(" ")
            } else {
                cleaned.append(u)
            }
        }
        guard lowercase else { return Array(cleaned) }
        var out: [Unicode.Scalar] = []
        for u in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where u.properties.generalCategory != .nonspacingMark {
            out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
        }
        return out
    }

    /// BertPreTokenizer: split on whitespace (dropped) and punctuation (each its own word).
    func preTokenize(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var cur: [Unicode.Scalar] = []
        for u in s {
            if u.properties.isWhitespace {
                if !cur.isEmpty { words.append(cur); cur = [] }
            } else if UnicodeClasses.isBertPunctuation(u) {
                if !cur.isEmpty { words.append(cur); cur = [] }
                words.append([u])
            } else {
                cur.append(u)
            }
        }
        if !cur.isEmpty { words.append(cur) }
        return words
    }

    func wordPiece(_ word: [Unicode.Scalar]) -> [Int] {
        if word.count > maxInputCharsPerWord { return [unkID] }
        var out: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while start < end {
                var piece = String(String.UnicodeScalarView(word[start..<end]))
                if start > 0 { piece = "##" + piece }
                if let id = ids[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unkID] }
            out.append(id)
            start = end
        }
        return out
    }

    /// Joins word pieces (`##` glued on, others after a space) and cleans up each piece as the `tokenizers`
    /// WordPiece decoder does (`" ."` → `"."` etc., applied per piece, not to the joined text).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let specialIDs = Set(specials.values)
        var text = ""
        var first = true
        for id in ids {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            let t = token(for: id)
            var piece: String
            // Scalars, not Characters: a combining sign after "##" would fuse with the '#' into one Character.
            let scalars = Array(t.unicodeScalars)
            if scalars.count >= 2 && scalars[0] == "#" && scalars[1] == "#" && !first {
                piece = String(String.UnicodeScalarView(scalars.dropFirst(2)))
            } else {
                piece = first ? t : " " + t
            }
            first = false
            text += cleanUpTokenizationSpaces(piece)
        }
        return text
    }
}

/// transformers' `clean_up_tokenization`: removes the space before punctuation and English contractions.
public func cleanUpTokenizationSpaces(_ s: String) -> String {
    var t = s
    for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                   (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
        t = t.replacingOccurrences(of: a, with: b)
    }
    return t
}

/// Unicode character classes as Hugging Face `tokenizers` defines them for BERT.
enum UnicodeClasses {
    /// Cc/Cf/Cn/Co/Cs except tab, newline, carriage return.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        if u == "\t" || u == "\n" || u == "\r" { return false }
        switch u.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isBertWhitespace(_ u: Unicode.Scalar) -> Bool {
        u == "\t" || u == "\n" || u == "\r" || u.properties.isWhitespace
    }

    /// ASCII punctuation (which includes `$+<=>^`|~`) or a Unicode P* category.
    static func isBertPunctuation(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch u.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT puts spaces around.
    static func isCJK(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}
