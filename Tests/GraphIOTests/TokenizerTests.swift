import Foundation
import Testing
import GraphIR
@testable import GraphIO

/// Expected ids from Hugging Face `tokenizers` (Tools/make_tokenizer_fixtures.py).
struct TokenizerCases {
    var strings: [String] = []
    var bert: [[Int]] = []
    var bertDecoded: [String] = []
    var gpt2: [[Int]] = []
    var gpt2Decoded: [String] = []
    var tinyBPE: [[Int]] = []
    var smollm2: [[Int]] = []

    static let shared: TokenizerCases = {
        let root = try! JSONParser.parse(fileAt: fixturePath("tokenizers/cases.json")).objectValue!
        func strings(_ k: String) -> [String] { root[k]!.arrayValue!.map { $0.stringValue! } }
        func ids(_ k: String) -> [[Int]] { root[k]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } } }
        return TokenizerCases(strings: strings("strings"), bert: ids("bert"), bertDecoded: strings("bert_decoded"),
                              gpt2: ids("gpt2"), gpt2Decoded: strings("gpt2_decoded"), tinyBPE: ids("tiny_bpe"),
                              smollm2: root["smollm2"] == nil ? [] : ids("smollm2"))
    }()
}

/// Records the first few mismatches (with the string) and returns the number of matching cases.
func compareIDs(_ name: String, _ encode: (String) -> [Int], _ expected: [[Int]],
                sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Int {
    let cases = TokenizerCases.shared
    var ok = 0, reported = 0
    for (i, s) in cases.strings.enumerated() {
        let got = encode(s)
        if got == expected[i] { ok += 1; continue }
        if reported < 5 {
            Issue.record("\(name) case \(i) \(s.debugDescription): got \(got), expected \(expected[i])", sourceLocation: sourceLocation)
            reported += 1
        }
    }
    return ok
}

@Suite struct BertTokenizerTests {
    static let vocabPath = assetPath("minilm/vocab.txt")

    @Test(.enabled(if: vocabPath != nil, "bert-base-uncased vocab.txt absent: run Tools/fetch_assets.sh"))
    func matchesHuggingFaceOnAllCases() throws {
        let tok = try BertTokenizer(vocabPath: Self.vocabPath!)
        #expect(tok.vocab.count == 30522 && tok.decoderStartID == 30522 && tok.vocabularySize == 30523)
        #expect((tok.padID, tok.unkID, tok.clsID, tok.sepID, tok.maskID) == (0, 100, 101, 102, 103))
        let cases = TokenizerCases.shared
        #expect(cases.strings.count >= 300)
        #expect(compareIDs("bert", tok.encode, cases.bert) == cases.strings.count)
        for (i, ids) in cases.bert.enumerated() where tok.decode(ids) != cases.bertDecoded[i] {
            Issue.record("decode case \(i): \(tok.decode(ids).debugDescription) vs \(cases.bertDecoded[i].debugDescription)")
            break
        }
        #expect(tok.encode("a photo of a cat") == [101, 1037, 6302, 1997, 1037, 4937, 102])
        #expect(tok.encode("[DEC] a cat") == [101, 30522, 1037, 4937, 102])
    }

    @Test(.enabled(if: vocabPath != nil, "bert-base-uncased vocab.txt absent: run Tools/fetch_assets.sh"))
    func tokenizerJSONGivesTheSameIDs() throws {
        let tok = try TokenizerJSON.load(path: assetPath("minilm/tokenizer.json")!)
        #expect(tok is BertTokenizer)
        let cases = TokenizerCases.shared
        #expect(compareIDs("bert tokenizer.json", tok.encode, cases.bert) == cases.strings.count)
    }

    /// A small hand-made vocabulary: every normalisation step, without the downloaded vocabulary.
    @Test func normalizationAndWordPieceOnASmallVocab() throws {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cafe", "un", "##aff", "##able", "!", "北", "京", "hello", "##s"]
        let tok = try BertTokenizer(vocab: vocab)
        #expect(tok.tokenize("Café") == ["cafe"])
        #expect(tok.tokenize("UNAFFABLE!") == ["un", "##aff", "##able", "!"])
        #expect(tok.tokenize("北京") == ["北", "京"])
        #expect(tok.tokenize("hellos\u{0}\u{7}  \t a") == ["hello", "##s", "a"])
        #expect(tok.tokenize("unknownword a") == ["[UNK]", "a"])
        #expect(tok.tokenize(String(repeating: "a", count: 101)) == ["[UNK]"])
        #expect(tok.decode(tok.encode("UNAFFABLE! a")) == "unaffable! a")
        #expect(tok.decoderStartID == vocab.count && tok.encode("[DEC]") == [2, vocab.count, 3])
        // A saved BLIP-2 tokenizer lists [DEC] itself: its id is kept.
        let saved = try BertTokenizer(vocab: vocab + ["[DEC]"])
        #expect(saved.decoderStartID == vocab.count && saved.vocabularySize == vocab.count + 1)
        #expect(saved.decode([2, vocab.count, 5, 3], skipSpecialTokens: false) == "[CLS] [DEC] a [SEP]")
        expectIOError(["missing", "[MASK]"]) { _ = try BertTokenizer(vocab: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]) }
        expectIOError(["line 3", "\"a\"", "line 1"]) { _ = try BertTokenizer(vocab: ["a", "b", "a"]) }
        expectIOError(["/nonexistent/vocab.txt"]) { _ = try BertTokenizer(vocabPath: "/nonexistent/vocab.txt") }
    }

    @Test func batchesTruncateAndPad() throws {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
        let tok = try BertTokenizer(vocab: vocab)
        let b = tok.encodeBatch(["a b c a b", "a", ""], maxLength: 5)
        #expect(b.ids == [[2, 5, 6, 7, 3], [2, 5, 3, 0, 0], [2, 3, 0, 0, 0]])
        #expect(b.attentionMask == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
        #expect(b.lengths == [5, 3, 2])
        let fixed = tok.encodeBatch(["a"], maxLength: 6, padding: .maxLength)
        #expect(fixed.ids == [[2, 5, 3, 0, 0, 0]])
        #expect(fixed.idsTensor.shape == [1, 6] && fixed.maskTensor.scalars == [1, 1, 1, 0, 0, 0])
        #expect(tok.encodeBatch(["a", "a b"]).sequenceLength == 4)
    }
}

@Suite struct BPETokenizerTests {
    static let gpt2 = assetPath("gpt2/encoder.json")

    @Test(.enabled(if: gpt2 != nil, "GPT-2 encoder.json/vocab.bpe absent: run Tools/fetch_assets.sh"))
    func gpt2MatchesHuggingFaceOnAllCases() throws {
        let tok = try ByteLevelBPETokenizer(vocabJSONPath: Self.gpt2!, mergesPath: assetPath("gpt2/vocab.bpe")!)
        #expect(tok.vocabularySize == 50257)
        let cases = TokenizerCases.shared
        #expect(compareIDs("gpt2", tok.encode, cases.gpt2) == cases.strings.count)
        var decodedOK = 0
        for (i, ids) in cases.gpt2.enumerated() where tok.decode(ids) == cases.gpt2Decoded[i] { decodedOK += 1 }
        #expect(decodedOK == cases.strings.count)
        #expect(tok.encode("Hello world") == [15496, 995] && tok.encode(" Hello world") == [18435, 995])
    }

    @Test func tinyBPEFromTokenizerJSONMatchesHuggingFace() throws {
        let tok = try TokenizerJSON.load(path: fixturePath("tokenizers/tiny_bpe.tokenizer.json"))
        let cases = TokenizerCases.shared
        #expect(compareIDs("tiny tokenizer.json", tok.encode, cases.tinyBPE) == cases.strings.count)
        // Byte-level BPE is lossless: decoding gives back every string.
        for s in cases.strings where tok.decode(tok.encode(s), skipSpecialTokens: false) != s {
            Issue.record("round trip failed for \(s.debugDescription)")
        }
    }

    @Test func tinyBPEFromGGUFMatchesHuggingFace() throws {
        let gguf = try GGUFFile(path: fixturePath("tokenizers/tiny_bpe.gguf"))
        #expect(gguf.version == 3 && gguf.tensors.isEmpty)
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        let tok = try ByteLevelBPETokenizer(gguf: gguf)
        let cases = TokenizerCases.shared
        #expect(compareIDs("tiny gguf", tok.encode, cases.tinyBPE) == cases.strings.count)
    }

    static let smollm2 = assetPath("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

    /// The frozen LM's own tokenizer, read from its GGUF file (pre-tokenizer "smollm": digits one by one).
    @Test(.enabled(if: smollm2 != nil, "SmolLM2 GGUF absent: run Tools/fetch_assets.sh"))
    func smolLM2FromGGUFMatchesHuggingFace() throws {
        let gguf = try GGUFFile(path: Self.smollm2!)
        #expect(gguf.tensors.count == 272 && gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.tensors.first { $0.name == "token_embd.weight" }?.dimensions == [576, 49152])
        let tok = try ByteLevelBPETokenizer(gguf: gguf)
        #expect(tok.vocabularySize == 49152 && tok.splitDigits && tok.specialTokens.count == 17 && tok.padID == 2)
        let prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        #expect(tok.encode(prompt) == [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198])
        let cases = TokenizerCases.shared
        #expect(cases.smollm2.count == cases.strings.count)
        #expect(compareIDs("smollm2 gguf", tok.encode, cases.smollm2) == cases.strings.count)
        // Strings without the control bytes this vocabulary lacks round-trip exactly.
        let missing = Set(tok.missingBytes)
        #expect(!missing.isEmpty, "SmolLM2 lacks some byte tokens: \(missing.sorted())")
        for s in cases.strings where !s.utf8.contains(where: missing.contains) && tok.decode(tok.encode(s), skipSpecialTokens: false) != s {
            Issue.record("round trip failed for \(s.debugDescription)")
        }
    }

    @Test func preTokenizationFollowsGPT2Pattern() {
        #expect(ByteLevelBPETokenizer.preTokenize("Hello world") == ["Hello", " world"])
        #expect(ByteLevelBPETokenizer.preTokenize("I'm here's 'x") == ["I", "'m", " here", "'s", " '", "x"])
        #expect(ByteLevelBPETokenizer.preTokenize("a   b\n\nc  ") == ["a", "  ", " b", "\n", "\n", "c", "  "])
        #expect(ByteLevelBPETokenizer.preTokenize("x123 4.5!!") == ["x", "123", " 4", ".", "5", "!!"])
        #expect(ByteLevelBPETokenizer.isolateDigits("in 2024!") == ["in ", "2", "0", "2", "4", "!"])
    }

    @Test func corruptTokenizerFilesGiveClearErrors() throws {
        let dir = temporaryDirectory()
        writeBytes(Array(#"{"a": 0, "b": 5}"#.utf8), dir + "/vocab.json")
        writeBytes(Array("#version: 0.2\na b\n".utf8), dir + "/merges.txt")
        expectIOError(["vocab.json", "\"b\"", "unique integer"]) {
            _ = try ByteLevelBPETokenizer(vocabJSONPath: dir + "/vocab.json", mergesPath: dir + "/merges.txt")
        }
        writeBytes(Array(#"{"a": 0, "b": 1"#.utf8), dir + "/trunc.json")
        expectIOError(["trunc.json", "unexpected end"]) {
            _ = try ByteLevelBPETokenizer(vocabJSONPath: dir + "/trunc.json", mergesPath: dir + "/merges.txt")
        }
        writeBytes(Array(#"{"a": 0, "b": 1}"#.utf8), dir + "/small.json")
        expectIOError(["merges.txt", "merge 1 \"a b\"", "not in the vocabulary"]) {
            _ = try ByteLevelBPETokenizer(vocabJSONPath: dir + "/small.json", mergesPath: dir + "/merges.txt")
        }
        writeBytes(Array(#"{"model": {"type": "Unigram", "vocab": {}}}"#.utf8), dir + "/tokenizer.json")
        expectIOError(["tokenizer.json", "Unigram"]) { _ = try TokenizerJSON.load(path: dir + "/tokenizer.json") }
    }

    @Test func corruptGGUFGivesClearErrors() throws {
        let good = try readFile(fixturePath("tokenizers/tiny_bpe.gguf"))
        let dir = temporaryDirectory()
        let cases: [(String, [UInt8], [String])] = [
            ("empty", [], ["missing \"GGUF\" magic"]),
            ("truncated", Array(good.prefix(good.count / 2)), ["remain"]),
            ("header-only", Array(good.prefix(10)), ["tensor count", "needs 8 bytes"]),
            ("bad-version", Array(good.prefix(4)) + [9, 0, 0, 0] + Array(good.dropFirst(8)), ["unsupported GGUF version 9"]),
            ("huge-count", Array(good.prefix(16)) + [255, 255, 255, 255, 255, 255, 255, 127] + Array(good.dropFirst(24)),
             ["exceed the file size"]),
        ]
        for (name, bytes, fragments) in cases {
            let p = dir + "/\(name).gguf"
            writeBytes(bytes, p)
            expectIOError(fragments + [p]) { _ = try GGUFFile(path: p) }
        }
    }
}
