import GraphIR

/// How `encodeBatch` pads: to the longest sequence in the batch, or always to the maximum length.
public enum PaddingStrategy: Sendable { case longest, maxLength }

/// Token ids of a batch, right-padded to one length, with the attention mask (1 = real token, 0 = padding).
public struct TokenBatch: Equatable, Sendable {
    public var ids: [[Int]]
    public var attentionMask: [[Int]]
    /// Number of real tokens per row.
    public var lengths: [Int]

    public var batchSize: Int { ids.count }
    public var sequenceLength: Int { ids.first?.count ?? 0 }

    /// Pads and truncates already-encoded sequences. Truncation keeps the first `maxLength` ids, but when
    /// `keepLast` is given (e.g. `[SEP]`) a truncated row still ends with it.
    public init(sequences: [[Int]], maxLength: Int?, padding: PaddingStrategy, padID: Int, keepLast: Int? = nil) {
        var rows = sequences
        if let maxLength {
            rows = rows.map { r in
                guard r.count > maxLength else { return r }
                var t = Array(r.prefix(maxLength))
                if let keepLast, maxLength > 0, r.last == keepLast { t[maxLength - 1] = keepLast }
                return t
            }
        }
        let longest = rows.map(\.count).max() ?? 0
        let length = (padding == .maxLength ? maxLength : nil) ?? longest
        lengths = rows.map(\.count)
        ids = rows.map { $0 + [Int](repeating: padID, count: length - $0.count) }
        attentionMask = rows.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: length - $0.count) }
    }

    /// `i32[B, L]` ids.
    public var idsTensor: Tensor { Tensor(ints: ids.flatMap { $0 }, shape: [batchSize, sequenceLength]) }
    /// `i32[B, L]` attention mask.
    public var maskTensor: Tensor { Tensor(ints: attentionMask.flatMap { $0 }, shape: [batchSize, sequenceLength]) }
    /// `i32[B]` lengths (for attention's key-padding operand).
    public var lengthsTensor: Tensor { Tensor(ints: lengths, shape: [batchSize]) }
}

/// What every tokenizer offers: text → ids with the model's special tokens, ids → text.
public protocol TextTokenizer: Sendable {
    /// Number of ids (including added tokens).
    var vocabularySize: Int { get }
    /// The ids of `text`, with the special tokens the model expects around a single sequence.
    func encode(_ text: String) -> [Int]
    /// Text for ids; special tokens are left out when `skipSpecialTokens`.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// The id used for padding.
    var padID: Int { get }
    /// An id that must stay last when a sequence is truncated (BERT's `[SEP]`), if any.
    var endID: Int? { get }
}

extension TextTokenizer {
    /// Encodes, truncates to `maxLength`, pads, and builds attention masks.
    public func encodeBatch(_ texts: [String], maxLength: Int? = nil, padding: PaddingStrategy = .longest) -> TokenBatch {
        TokenBatch(sequences: texts.map { encode($0) }, maxLength: maxLength, padding: padding, padID: padID, keepLast: endID)
    }
}

/// Splits text around exact occurrences of special tokens (leftmost, longest first), as Hugging Face's
/// added-token matching does before normalisation. Returns segments: `.text` or `.special(id)`.
enum SpecialTokenSplitter {
    enum Segment: Equatable { case text(String), special(Int) }

    static func split(_ text: String, specials: [String: Int]) -> [Segment] {
        guard !specials.isEmpty else { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        let patterns = specials.keys.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        var out: [Segment] = []
        var current = String.UnicodeScalarView()
        var i = 0
        outer: while i < scalars.count {
            for p in patterns where i + p.count <= scalars.count && scalars[i] == p[0] {
                if Array(scalars[i..<(i + p.count)]) == p {
                    if !current.isEmpty { out.append(.text(String(current))); current = String.UnicodeScalarView() }
                    out.append(.special(specials[String(String.UnicodeScalarView(p))]!))
                    i += p.count
                    continue outer
                }
            }
            current.append(scalars[i])
            i += 1
        }
        if !current.isEmpty { out.append(.text(String(current))) }
        return out
    }
}
