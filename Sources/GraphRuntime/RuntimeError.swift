import GraphIR

/// Every error the runtime raises. The message names the place: the input or output, or the kernel's op,
/// scope and model source line.
public struct RuntimeError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// A graph the runtime cannot lower (ill-typed node, unsupported dtype for an op).
        case lowering
        /// A missing, unknown or mistyped input, or a parameter of the wrong type.
        case badInput
        /// A kernel found bad data (an index out of range, a label out of range).
        case badData
        /// A checked output holds NaN or Inf.
        case nonFinite
        /// A name that is not an output or parameter of the program.
        case unknownName
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// "op in scope 'x' at file:line" for messages about a node.
func place(of node: Node) -> String {
    var s = node.op.mnemonic
    if !node.scope.isEmpty { s += " in scope '\(node.scope)'" }
    if node.location != .unknown { s += " at \(node.location)" }
    return s
}
