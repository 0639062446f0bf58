import Foundation

/// Turns the Open Clip Art Library as Debian ships it (`openclipart-png` + `openclipart-svg`, installed or
/// unpacked with `dpkg-deb -x`: `<root>/png/<category>/.../<name>.png` and the same path under `svg/` with
/// `.svg`) into the jsonl caption form of `CaptionFileDataset`. Each PNG is paired with its SVG; the caption
/// comes from the SVG's RDF metadata: the work's `dc:title` (not the creator's) and `dc:subject` keywords,
/// e.g. `clip art of violin (colour): music, instrument`. Without an SVG or a title, the caption is built
/// from the file name and category folders, and the report counts it; a PNG that is a link to one already
/// written is left out and counted: nothing is dropped silently.
public enum ClipartImporter {
    /// What an import wrote, and how many captions had to come from the file path.
    public struct Report: Equatable, Sendable {
        public var written = 0
        /// PNGs with no matching SVG (captioned from the path).
        public var withoutSVG = 0
        /// SVGs with no usable `dc:title` (captioned from the path).
        public var withoutTitle = 0
        /// PNGs that are links to an image already written (the package files some images under two categories).
        public var duplicateLinks = 0
    }

    static let genericKeywords: Set<String> = ["clip art", "clipart", "image", "media", "public domain", "svg", "png",
                                               "externalsource", "openclipart", "remix", "how i did it", "colour", "color"]

    /// Imports `root` (the folder holding `png/` and `svg/`, e.g. `/usr/share/openclipart`) into `jsonlPath`.
    public static func importLibrary(root: String, to jsonlPath: String) throws -> Report {
        let pngRoot = root + "/png"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: pngRoot, isDirectory: &isDir), isDir.boolValue,
              let walker = FileManager.default.enumerator(atPath: pngRoot) else {
            throw GraphIOError(.dataset, "\(pngRoot): cannot list (expected <root>/png and <root>/svg)")
        }
        var pngs: [String] = []
        while let rel = walker.nextObject() as? String {
            if rel.lowercased().hasSuffix(".png") { pngs.append(rel) }
        }
        // Regular files first, so a link never displaces the image it points to.
        func isLink(_ rel: String) -> Bool {
            (try? FileManager.default.attributesOfItem(atPath: pngRoot + "/" + rel)[.type] as? FileAttributeType) == .typeSymbolicLink
        }
        pngs.sort { (isLink($0) ? 1 : 0, $0) < (isLink($1) ? 1 : 0, $1) }
        var report = Report()
        var out: [(image: String, caption: String)] = []
        var seen = Set<String>()
        for rel in pngs {
            guard seen.insert(URL(fileURLWithPath: pngRoot + "/" + rel).resolvingSymlinksInPath().path).inserted else {
                report.duplicateLinks += 1
                continue
            }
            let svg = root + "/svg/" + String(rel.dropLast(4)) + ".svg"
            var caption: String?
            if let data = FileManager.default.contents(atPath: svg) {
                let meta = svgMetadata(String(decoding: data, as: UTF8.self))
                if let t = meta.title {
                    caption = makeCaption(title: t, keywords: meta.keywords)
                } else {
                    report.withoutTitle += 1
                }
            } else {
                report.withoutSVG += 1
            }
            out.append((image: pngRoot + "/" + rel, caption: caption ?? pathCaption(rel)))
        }
        try CaptionFileDataset.writeJSONL(out, to: jsonlPath)
        report.written = out.count
        return report
    }

    /// "clip art of <title>: kw1, kw2" (lower-cased; at most 4 keywords not already in the title).
    static func makeCaption(title: String, keywords: [String]) -> String {
        let t = tidy(title.replacingOccurrences(of: "_", with: " ")).lowercased()
        var seen = Set<String>()
        var kws: [String] = []
        for k in keywords.map({ tidy($0.replacingOccurrences(of: "_", with: " ")).lowercased() }) where !k.isEmpty && !genericKeywords.contains(k) && !t.contains(k) {
            if seen.insert(k).inserted { kws.append(k) }
        }
        return "clip art of \(t)" + (kws.isEmpty ? "" : ": " + kws.prefix(4).joined(separator: ", "))
    }

    /// From `category/sub/name_01.png`: "clip art of name: sub, category".
    static func pathCaption(_ rel: String) -> String {
        var parts = rel.split(separator: "/").map(String.init)
        var name = String(parts.removeLast().dropLast(4)).replacingOccurrences(of: "_", with: " ")
        while let last = name.last, last.isNumber || last == " " { name.removeLast() }
        return makeCaption(title: name.isEmpty ? (parts.last ?? "something") : name, keywords: parts.reversed())
    }

    /// The work's title and keywords from SVG RDF metadata. Creator/publisher names (`cc:Agent` blocks) are
    /// removed first, because they hold `dc:title` elements too.
    static func svgMetadata(_ svg: String) -> (title: String?, keywords: [String]) {
        var scope = svg
        if let work = firstElement("cc:Work", in: svg) { scope = work }
        while let agent = scope.range(of: "<cc:Agent"), let end = scope.range(of: "</cc:Agent>", range: agent.upperBound..<scope.endIndex) {
            scope.removeSubrange(agent.lowerBound..<end.upperBound)
        }
        let title = firstElement("dc:title", in: scope).map { tidy(decodeEntities(stripTags($0))) }.flatMap { $0.isEmpty ? nil : $0 }
        var keywords: [String] = []
        if let subject = firstElement("dc:subject", in: scope) {
            var rest = subject[...]
            while let li = rest.range(of: "<rdf:li") {
                guard let open = rest.range(of: ">", range: li.upperBound..<rest.endIndex),
                      let close = rest.range(of: "</rdf:li>", range: open.upperBound..<rest.endIndex) else { break }
                keywords.append(tidy(decodeEntities(String(rest[open.upperBound..<close.lowerBound]))))
                rest = rest[close.upperBound...]
            }
        }
        return (title, keywords)
    }

    /// The inner text of the first `<tag ...>...</tag>`.
    static func firstElement(_ tag: String, in s: String) -> String? {
        var search = s.startIndex..<s.endIndex
        while let open = s.range(of: "<" + tag, range: search) {
            guard let next = s[open.upperBound...].first else { return nil }
            // "<dc:title" must not match "<dc:titleX".
            if next == ">" || next == " " || next == "\n" || next == "\t" || next == "\r" {
                guard let gt = s.range(of: ">", range: open.upperBound..<s.endIndex) else { return nil }
                if s[s.index(before: gt.lowerBound)] == "/" { return "" }
                guard let close = s.range(of: "</" + tag + ">", range: gt.upperBound..<s.endIndex) else { return nil }
                return String(s[gt.upperBound..<close.lowerBound])
            }
            search = open.upperBound..<s.endIndex
        }
        return nil
    }

    static func stripTags(_ s: String) -> String {
        var out = ""
        var inTag = false
        for c in s {
            if c == "<" { inTag = true } else if c == ">" { inTag = false; out += " " } else if !inTag { out.append(c) }
        }
        return out
    }

    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = s[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let name = String(rest[rest.index(after: amp)..<semi])
            let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            if let v = named[name] {
                out += v
            } else if name.hasPrefix("#"), let code = name.hasPrefix("#x") ? UInt32(name.dropFirst(2), radix: 16) : UInt32(name.dropFirst()),
                      let u = Unicode.Scalar(code) {
                out.unicodeScalars.append(u)
            } else {
                out += "&" + name + ";"
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    /// Collapses whitespace runs to single spaces and trims.
    static func tidy(_ s: String) -> String {
        s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
