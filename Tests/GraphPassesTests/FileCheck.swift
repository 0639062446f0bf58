/// A small FileCheck (LLVM) subset for pass tests. Directives are read from lines of `checks`:
/// - `CHECK: text`       the next line at or after the current position that contains `text`;
/// - `CHECK-NEXT: text`  the line right after the previous match must contain `text`;
/// - `CHECK-NOT: text`   no line between the previous match and the next positive match (or the end) contains it;
/// - `CHECK-LABEL: text` like CHECK (kept for readability of multi-graph files).
/// Matching is by substring, with runs of spaces in the pattern matching runs of spaces in the line.
/// Returns the failures, each naming the directive and where the search was (empty = pass).
enum FileCheck {
    enum Kind: String { case check = "CHECK", next = "CHECK-NEXT", not = "CHECK-NOT", label = "CHECK-LABEL" }

    static func directives(_ checks: String) -> [(Kind, String)] {
        checks.split(separator: "\n").compactMap { raw in
            let line = raw.drop { $0 == " " || $0 == "/" || $0 == "#" }
            for kind in [Kind.next, .not, .label, .check] where line.hasPrefix(kind.rawValue + ":") {
                return (kind, normalized(String(line.dropFirst(kind.rawValue.count + 1))))
            }
            return nil
        }
    }

    static func normalized(_ s: String) -> String {
        s.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    static func match(_ output: String, _ checks: String) -> [String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map { normalized(String($0)) }
        let ds = directives(checks)
        if ds.isEmpty { return ["no CHECK directives"] }
        var failures: [String] = []
        var pos = 0          // first line a CHECK may match
        var lastMatch = -1   // line of the previous positive match
        var pendingNots: [String] = []
        func context(_ from: Int) -> String {
            lines[min(from, lines.count)..<min(from + 3, lines.count)].joined(separator: " | ")
        }
        for (kind, pattern) in ds {
            switch kind {
            case .not:
                pendingNots.append(pattern)
            case .next:
                let line = lastMatch + 1
                if line < lines.count && lines[line].contains(pattern) {
                    lastMatch = line
                    pos = line + 1
                } else {
                    failures.append("CHECK-NEXT: '\(pattern)' not on line \(line + 1) (found: \(line < lines.count ? lines[line] : "end"))")
                }
            case .check, .label:
                guard let found = (pos..<lines.count).first(where: { lines[$0].contains(pattern) }) else {
                    failures.append("\(kind.rawValue): '\(pattern)' not found after line \(pos) (next: \(context(pos)))")
                    continue
                }
                for n in pendingNots {
                    if let bad = (max(lastMatch + 1, 0)..<found).first(where: { lines[$0].contains(n) }) {
                        failures.append("CHECK-NOT: '\(n)' found on line \(bad + 1): \(lines[bad])")
                    }
                }
                pendingNots = []
                lastMatch = found
                pos = found + 1
            }
        }
        for n in pendingNots {
            if let bad = (max(lastMatch + 1, 0)..<lines.count).first(where: { lines[$0].contains(n) }) {
                failures.append("CHECK-NOT: '\(n)' found on line \(bad + 1): \(lines[bad])")
            }
        }
        return failures
    }
}
