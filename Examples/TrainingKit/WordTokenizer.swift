import Foundation

/// A word-level tokenizer whose vocabulary is built from the training captions.
///
/// Why: the tiny config trains in minutes on two cores; a 30,522-word BERT vocabulary would make the ITG
/// LM head and the word embeddings most of the compute for a dataset with a few dozen distinct words.
/// Real checkpoints use the WordPiece/BPE tokenizers of GraphIO instead.
public struct WordTokenizer: Equatable {
    public static let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]", "[BOS]", "[EOS]"]
    public let words: [String]
    let index: [String: Int]

    public var pad: Int { 0 }
    public var unk: Int { 1 }
    public var cls: Int { 2 }
    public var sep: Int { 3 }
    public var dec: Int { 4 }
    public var bos: Int { 5 }
    public var eos: Int { 6 }
    public var count: Int { words.count }

    public init(words: [String]) {
        self.words = words
        var m: [String: Int] = [:]
        for (i, w) in words.enumerated() where m[w] == nil { m[w] = i }
        index = m
    }

    /// Builds the vocabulary from a corpus: specials first, then words by descending frequency (ties by spelling).
    public init(corpus: [String], minCount: Int = 1) {
        var counts: [String: Int] = [:]
        for c in corpus { for w in Self.split(c) { counts[w, default: 0] += 1 } }
        let kept = counts.filter { $0.value >= minCount }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        self.init(words: Self.specials + kept)
    }

    /// Lower-cases and splits on anything that is not a letter or digit (punctuation is dropped).
    public static func split(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }

    public func ids(_ text: String) -> [Int] { Self.split(text).map { index[$0] ?? unk } }

    /// `[first] words… [last]`, truncated to `length` (keeping `last`) and right-padded with [PAD].
    /// Returns the ids and the number of real (non-pad) tokens.
    public func encode(_ text: String, first: Int?, last: Int?, length: Int) -> (ids: [Int], count: Int) {
        var body = ids(text)
        let reserved = (first == nil ? 0 : 1) + (last == nil ? 0 : 1)
        if body.count > length - reserved { body = Array(body.prefix(max(0, length - reserved))) }
        let seq = (first.map { [$0] } ?? []) + body + (last.map { [$0] } ?? [])
        return (seq + [Int](repeating: pad, count: length - seq.count), seq.count)
    }

    /// Text from ids, stopping at the first of `stop` and skipping specials.
    public func decode(_ ids: [Int], stop: Set<Int> = []) -> String {
        var out: [String] = []
        for i in ids {
            if stop.contains(i) { break }
            guard i >= Self.specials.count, i < words.count else { continue }
            out.append(words[i])
        }
        return out.joined(separator: " ")
    }

    /// The vocabulary file: one word per line, in id order.
    public func write(to url: URL) throws { try (words.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8) }
    public static func read(from url: URL) throws -> WordTokenizer {
        let text = try String(contentsOf: url, encoding: .utf8)
        let words = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        guard Array(words.prefix(specials.count)) == specials else {
            throw TrainingError("\(url.path): not a graphc word vocabulary (expected the special tokens first)")
        }
        return WordTokenizer(words: words)
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
