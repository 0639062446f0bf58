import GraphIR
import GraphIO

/// Turns captions into the id sequences of one text input of the model.
///
/// Why a protocol: the Q-Former and the LM may read text through different vocabularies. By default both use
/// the run's word vocabulary; a Q-Former initialised from BERT reads BERT WordPiece ids while the tiny LM keeps
/// the word vocabulary.
public protocol TextEncoder {
    /// Rows the embedding table needs (every id `encode` can produce, `[DEC]` included).
    var vocabularySize: Int { get }
    var pad: Int { get }
    var cls: Int { get }
    var sep: Int { get }
    /// BLIP-2's decoder start token of the Q-Former's ITG pass.
    var dec: Int { get }
    /// `[first] tokens… [last]`, truncated to `length` (keeping `last`) and right-padded with `pad`.
    /// Returns the ids and the number of real (non-pad) tokens.
    func encode(_ text: String, first: Int?, last: Int?, length: Int) -> (ids: [Int], count: Int)
}

extension TextEncoder {
    /// A batch: ids `i32[N, length]` and the attention mask (1 = real token).
    public func encode(_ captions: [String], first: Int, last: Int, length: Int) -> (ids: Tensor, mask: Tensor) {
        var ids: [Double] = [], mask: [Double] = []
        for c in captions {
            let e = encode(c, first: first, last: last, length: length)
            ids += e.ids.map(Double.init)
            mask += (0..<length).map { $0 < e.count ? 1 : 0 }
        }
        return (Tensor(.i32, [captions.count, length], ids), Tensor(.i32, [captions.count, length], mask))
    }

    /// Shared truncation and padding of `encode` for tokenizers that give the body ids.
    func framed(_ body: [Int], first: Int?, last: Int?, length: Int) -> (ids: [Int], count: Int) {
        let reserved = (first == nil ? 0 : 1) + (last == nil ? 0 : 1)
        let kept = body.count > length - reserved ? Array(body.prefix(max(0, length - reserved))) : body
        let seq = (first.map { [$0] } ?? []) + kept + (last.map { [$0] } ?? [])
        return (seq + [Int](repeating: pad, count: max(0, length - seq.count)), seq.count)
    }
}

extension WordTokenizer: TextEncoder {
    public var vocabularySize: Int { count }
}

/// BERT WordPiece ids (GraphIO's `BertTokenizer`) with BLIP-2's added `[DEC]`, for a Q-Former initialised from
/// a BERT checkpoint.
public struct WordPieceEncoder: TextEncoder {
    public let tokenizer: BertTokenizer
    public init(_ tokenizer: BertTokenizer) { self.tokenizer = tokenizer }
    /// Loads the `vocab.txt` of a BERT checkpoint folder.
    public init(vocabPath: String) throws { tokenizer = try BertTokenizer(vocabPath: vocabPath) }

    public var vocabularySize: Int { tokenizer.vocabularySize }
    public var pad: Int { tokenizer.padID }
    public var cls: Int { tokenizer.clsID }
    public var sep: Int { tokenizer.sepID }
    public var dec: Int { tokenizer.decoderStartID }

    public func encode(_ text: String, first: Int?, last: Int?, length: Int) -> (ids: [Int], count: Int) {
        framed(tokenizer.tokenIDs(text), first: first, last: last, length: length)
    }
}
