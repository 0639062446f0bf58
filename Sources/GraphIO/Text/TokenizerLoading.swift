import Foundation

extension ByteLevelBPETokenizer {
    /// From GGUF tokenizer metadata (`tokenizer.ggml.model == "gpt2"`): `tokens`, `merges`, `token_type`
    /// (type 3, control, marks special tokens), `bos_token_id` with `add_bos_token`, `padding_token_id`,
    /// and the pre-tokenizer type `tokenizer.ggml.pre` ("gpt2"/"default", or "smollm" = digits split off).
    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        func fail(_ what: String) -> GraphIOError { GraphIOError(.tokenizer, "\(path): \(what)") }
        guard let model = gguf.metadata["tokenizer.ggml.model"]?.stringValue else { throw fail("no tokenizer.ggml.model") }
        guard model == "gpt2" else { throw fail("tokenizer.ggml.model is \"\(model)\"; only byte-level BPE (\"gpt2\") is supported") }
        guard let toks = gguf.metadata["tokenizer.ggml.tokens"]?.arrayValue else { throw fail("no tokenizer.ggml.tokens array") }
        let tokens = try toks.enumerated().map { i, v -> String in
            guard let s = v.stringValue else { throw fail("tokenizer.ggml.tokens[\(i)] is not a string") }
            return s
        }
        guard let ms = gguf.metadata["tokenizer.ggml.merges"]?.arrayValue else { throw fail("no tokenizer.ggml.merges array") }
        let merges = try ms.enumerated().map { i, v -> String in
            guard let s = v.stringValue else { throw fail("tokenizer.ggml.merges[\(i)] is not a string") }
            return s
        }
        var specials: [String: Int] = [:]
        if let types = gguf.metadata["tokenizer.ggml.token_type"]?.arrayValue {
            guard types.count == tokens.count else { throw fail("token_type has \(types.count) entries for \(tokens.count) tokens") }
            for (i, t) in types.enumerated() where t.intValue == 3 { specials[tokens[i]] = i }
        }
        let bos = gguf.metadata["tokenizer.ggml.bos_token_id"]?.intValue
        let addBOS = gguf.metadata["tokenizer.ggml.add_bos_token"]?.boolValue ?? false
        let pad = gguf.metadata["tokenizer.ggml.padding_token_id"]?.intValue ?? gguf.metadata["tokenizer.ggml.eos_token_id"]?.intValue
        for (name, id) in [("bos", bos), ("padding", pad)] where id != nil && !(0..<tokens.count).contains(id!) {
            throw fail("\(name) token id \(id!) is outside 0..<\(tokens.count)")
        }
        try self.init(tokens: tokens, merges: merges, specialTokens: specials, bosID: addBOS ? bos : nil, padID: pad, source: path)
        let pre = gguf.metadata["tokenizer.ggml.pre"]?.stringValue ?? "default"
        switch pre {
        case "default", "gpt2", "gpt-2": break
        case "smollm": splitDigits = true
        default: throw fail("pre-tokenizer type \"\(pre)\" is not supported (supported: default, gpt2, smollm)")
        }
    }
}

/// Loads a Hugging Face `tokenizer.json` (fast-tokenizer file): a WordPiece model with a BertNormalizer
/// becomes a `BertTokenizer`; a BPE model with a ByteLevel pre-tokenizer (optionally preceded by
/// `Digits(individual_digits: true)`) becomes a `ByteLevelBPETokenizer`. Anything else is a clear error.
public enum TokenizerJSON {
    /// The tokenizer a `tokenizer.json` describes (`BertTokenizer` or `ByteLevelBPETokenizer`).
    public static func load(path: String) throws -> any TextTokenizer {
        func fail(_ what: String) -> GraphIOError { GraphIOError(.tokenizer, "\(path): \(what)") }
        guard let root = try JSONParser.parse(fileAt: path).objectValue else { throw fail("not a JSON object") }
        guard let model = root["model"]?.objectValue, let type = model["type"]?.stringValue else { throw fail("missing model.type") }
        guard let vocabObj = model["vocab"]?.objectValue else { throw fail("missing model.vocab object") }
        var tokens = try ByteLevelBPETokenizer.tokenArray(vocabObj, source: path + " model.vocab")
        var added: [String: Int] = [:]
        for (i, t) in (root["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let o = t.objectValue, let content = o["content"]?.stringValue, let id = o["id"]?.intValue, id >= 0 else {
                throw fail("added_tokens[\(i)] needs \"content\" and a non-negative \"id\"")
            }
            if id == tokens.count { tokens.append(content) }
            guard id < tokens.count, tokens[id] == content else {
                throw fail("added_tokens[\(i)] \"\(content)\" has id \(id), which conflicts with the vocabulary")
            }
            added[content] = id
        }
        switch type {
        case "WordPiece":
            let norm = root["normalizer"]?.objectValue
            guard norm?["type"]?.stringValue == "BertNormalizer" else { throw fail("WordPiece without a BertNormalizer is not supported") }
            var lower = true
            if case .bool(let b)? = norm?["lowercase"] { lower = b }
            let maxChars = model["max_input_chars_per_word"]?.intValue ?? 100
            return try BertTokenizer(vocab: tokens, lowercase: lower, maxInputCharsPerWord: maxChars, source: path)
        case "BPE":
            var splitDigits = false
            let pre = root["pre_tokenizer"]?.objectValue
            var parts: [JSONObject] = []
            if pre?["type"]?.stringValue == "Sequence" {
                parts = (pre?["pretokenizers"]?.arrayValue ?? []).compactMap(\.objectValue)
            } else if let pre {
                parts = [pre]
            }
            guard let last = parts.last, last["type"]?.stringValue == "ByteLevel" else {
                throw fail("BPE pre_tokenizer must be ByteLevel (optionally after Digits)")
            }
            if case .bool(true)? = last["add_prefix_space"] { throw fail("ByteLevel add_prefix_space = true is not supported") }
            for p in parts.dropLast() {
                guard p["type"]?.stringValue == "Digits", case .bool(true)? = p["individual_digits"] else {
                    throw fail("pre_tokenizer \(p["type"]?.stringValue ?? "?") is not supported")
                }
                splitDigits = true
            }
            let merges = try (model["merges"]?.arrayValue ?? []).enumerated().map { i, m -> String in
                if let s = m.stringValue { return s }
                if let a = m.arrayValue, a.count == 2, let l = a[0].stringValue, let r = a[1].stringValue { return l + " " + r }
                throw fail("model.merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
            var t = try ByteLevelBPETokenizer(tokens: tokens, merges: merges, specialTokens: added, source: path)
            t.splitDigits = splitDigits
            return t
        default:
            throw fail("model type \"\(type)\" is not supported (WordPiece, BPE)")
        }
    }
}
