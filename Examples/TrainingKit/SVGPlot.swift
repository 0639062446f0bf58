import Foundation

/// A line chart as standalone SVG: one panel per group of series, shared step axis, legend, grid.
public struct SVGPlot {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }
    public struct Panel {
        public var title: String
        public var series: [Series]
        public var logY: Bool
        public init(title: String, series: [Series], logY: Bool = false) {
            self.title = title
            self.series = series
            self.logY = logY
        }
    }

    public var title: String
    public var panels: [Panel]
    public init(title: String, panels: [Panel]) {
        self.title = title
        self.panels = panels
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public func render(width: Double = 760, panelHeight: Double = 260) -> String {
        let top = 40.0, gap = 50.0
        let height = top + Double(panels.count) * (panelHeight + gap)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">\(escape(title))</text>\n"
        for (pi, panel) in panels.enumerated() {
            s += renderPanel(panel, x0: 70, y0: top + Double(pi) * (panelHeight + gap) + 20, w: width - 230, h: panelHeight - 20)
        }
        return s + "</svg>\n"
    }

    func renderPanel(_ p: Panel, x0: Double, y0: Double, w: Double, h: Double) -> String {
        let pts = p.series.flatMap(\.points).filter { $0.y.isFinite && (!p.logY || $0.y > 0) }
        var s = "<text x=\"\(x0)\" y=\"\(y0 - 6)\" font-size=\"13\" font-weight=\"bold\">\(escape(p.title))</text>\n"
        s += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#444\"/>\n"
        guard !pts.isEmpty else { return s + "<text x=\"\(x0 + 10)\" y=\"\(y0 + 20)\">no data</text>\n" }
        let f: (Double) -> Double = p.logY ? { Foundation.log10($0) } : { $0 }
        let xmin = pts.map(\.x).min()!, xmax = max(pts.map(\.x).max()!, xmin + 1)
        var ymin = pts.map { f($0.y) }.min()!, ymax = pts.map { f($0.y) }.max()!
        if ymax - ymin < 1e-9 { ymin -= 0.5; ymax += 0.5 }
        let pad = (ymax - ymin) * 0.05
        ymin -= pad; ymax += pad
        func px(_ x: Double) -> Double { x0 + (x - xmin) / (xmax - xmin) * w }
        func py(_ y: Double) -> Double { y0 + h - (f(y) - ymin) / (ymax - ymin) * h }
        for i in 0...4 {
            let fy = ymin + (ymax - ymin) * Double(i) / 4
            let yy = y0 + h - Double(i) / 4 * h
            let label = p.logY ? String(format: "%.3g", Foundation.pow(10, fy)) : String(format: "%.3g", fy)
            s += "<line x1=\"\(x0)\" y1=\"\(yy)\" x2=\"\(x0 + w)\" y2=\"\(yy)\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(x0 - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(label)</text>\n"
            let xx = x0 + Double(i) / 4 * w
            s += "<text x=\"\(xx)\" y=\"\(y0 + h + 16)\" text-anchor=\"middle\">\(Int((xmin + (xmax - xmin) * Double(i) / 4).rounded()))</text>\n"
        }
        s += "<text x=\"\(x0 + w / 2)\" y=\"\(y0 + h + 32)\" text-anchor=\"middle\">step</text>\n"
        for (i, series) in p.series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let valid = series.points.filter { $0.y.isFinite && (!p.logY || $0.y > 0) }
            if valid.count == 1 {
                s += "<circle cx=\"\(px(valid[0].x))\" cy=\"\(py(valid[0].y))\" r=\"3\" fill=\"\(color)\"/>\n"
            } else if !valid.isEmpty {
                let path = valid.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
            }
            let ly = y0 + 14 + Double(i) * 16
            s += "<line x1=\"\(x0 + w + 12)\" y1=\"\(ly - 4)\" x2=\"\(x0 + w + 30)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            s += "<text x=\"\(x0 + w + 36)\" y=\"\(ly)\">\(escape(series.name))</text>\n"
        }
        return s
    }

    func escape(_ t: String) -> String {
        t.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Builds the standard training plot from metrics records: losses (log scale) and eval metrics.
    public static func fromMetrics(title: String, records: [[String: Double]]) -> SVGPlot {
        func series(_ key: String) -> Series {
            Series(name: key, points: records.compactMap { r in
                guard let y = r[key], let x = r["step"] else { return nil }
                return (x, y)
            })
        }
        let keys = Set(records.flatMap(\.keys))
        let lossKeys = keys.filter { $0.hasPrefix("loss") }.sorted()
        let evalKeys = keys.filter { $0.hasPrefix("eval.") }.sorted()
        var panels = [Panel(title: "training loss", series: lossKeys.map(series), logY: true)]
        if !evalKeys.isEmpty { panels.append(Panel(title: "held-out metrics", series: evalKeys.map(series))) }
        return SVGPlot(title: title, panels: panels)
    }
}
