/// Every error the IR raises: builder misuse, verification failures, parse errors, interpreter input errors.
/// The message always names the place: the op and its scope and source line, or the text position.
public struct GraphError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable { case build, verify, parse, evaluate }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// An invalid builder call: names the op, the scope, the operand types and the model code's file:line.
    static func invalidCall(_ op: OpKind, scope: String, operands: [TensorType], location: SourceLocation,
                            _ why: String) -> GraphError {
        let where_ = scope.isEmpty ? "" : " in scope '\(scope)'"
        let types = operands.map(\.description).joined(separator: ", ")
        return GraphError(.build, "\(location): \(op.mnemonic)\(where_): \(why) (operands: \(types.isEmpty ? "none" : types))")
    }
}

/// Thrown by shape rules; the builder wraps it with the op, scope and location.
public struct ShapeError: Error {
    public var message: String
    public init(_ message: String) { self.message = message }
}
