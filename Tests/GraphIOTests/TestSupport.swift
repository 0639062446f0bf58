import Foundation
import Testing
@testable import GraphIO

/// A fresh temporary directory per call (removed by the OS; tests never rely on cleanup).
func temporaryDirectory() -> String {
    let dir = NSTemporaryDirectory() + "graphio-tests-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Path of a committed fixture under Tests/GraphIOTests/Fixtures.
func fixturePath(_ relative: String) -> String {
    Bundle.module.resourcePath! + "/Fixtures/" + relative
}

func writeBytes(_ bytes: [UInt8], _ path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// Expects a GraphIOError whose message contains every fragment; returns the message.
@discardableResult
func expectIOError(_ fragments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation,
                   _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        return ""
    } catch let e as GraphIOError {
        for f in fragments where !e.message.contains(f) {
            Issue.record("error \"\(e.message)\" does not contain \"\(f)\"", sourceLocation: sourceLocation)
        }
        return e.message
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return ""
    }
}

/// Where optional downloaded assets live (Tools/fetch_assets.sh writes them): $GRAPHC_ASSETS or <repo>/.assets.
func assetPath(_ relative: String) -> String? {
    let root: String
    if let env = ProcessInfo.processInfo.environment["GRAPHC_ASSETS"] {
        root = env
    } else {
        // Tests/GraphIOTests/TestSupport.swift → repo root.
        root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/.assets"
    }
    let p = root + "/" + relative
    return FileManager.default.fileExists(atPath: p) ? p : nil
}
