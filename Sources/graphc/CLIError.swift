/// An error for the user: one line, no stack trace. ArgumentParser prints it as `Error: <message>`.
public struct CLIError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) {
        // Keep the promise of one line even when a wrapped error's text has several.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: "; ")
    }
    public var description: String { message }
}
