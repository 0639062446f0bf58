/// Every error GraphIO raises. The message names the file and the place inside it (tensor, byte offset,
/// line, JSON position) so a bad input can be found without a debugger.
public struct GraphIOError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable { case json, safetensors, gguf, tokenizer, image, dataset, file }
    public var kind: Kind
    public var message: String

    /// `message` must name the file and the place in it.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
