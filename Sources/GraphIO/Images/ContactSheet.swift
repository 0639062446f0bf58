/// A grid of images with their captions underneath, for looking at a batch (written as PNG).
/// Captions are drawn with a small built-in bitmap font (printable ASCII; other characters show as '?'),
/// word-wrapped to the cell width and cut to `captionLines` lines.
public enum ContactSheet {
    /// The sheet as an image: `columns` cells of `cellSize` pixels, captions under each.
    public static func render(images: [RGBImage], captions: [String], columns: Int = 4, cellSize: Int = 128,
                              captionLines: Int = 3) -> RGBImage {
        precondition(images.count == captions.count && columns > 0 && cellSize >= 16, "ContactSheet: bad arguments")
        let pad = 4
        let lineHeight = BitmapFont.height + 1
        let cellW = cellSize + 2 * pad
        let cellH = cellSize + 2 * pad + captionLines * lineHeight
        let cols = max(1, min(columns, images.count))
        let rows = max(1, (images.count + cols - 1) / cols)
        var sheet = RGBImage(width: cols * cellW, height: rows * cellH, fill: (255, 255, 255))
        for (i, im) in images.enumerated() {
            let ox = (i % cols) * cellW + pad, oy = (i / cols) * cellH + pad
            if im.width > 0 && im.height > 0 {
                let scaled = BicubicResize.resize(im, width: cellSize, height: cellSize)
                for y in 0..<cellSize {
                    let d = ((oy + y) * sheet.width + ox) * 3
                    sheet.pixels[d..<(d + cellSize * 3)] = scaled.pixels[(y * cellSize * 3)..<((y + 1) * cellSize * 3)]
                }
            }
            let lines = wrap(captions[i], width: cellSize / BitmapFont.width).prefix(captionLines)
            for (l, line) in lines.enumerated() {
                drawText(line, x: ox, y: oy + cellSize + 2 + l * lineHeight, into: &sheet)
            }
        }
        return sheet
    }

    /// Renders the sheet and writes it as PNG (atomically).
    public static func write(images: [RGBImage], captions: [String], to path: String, columns: Int = 4,
                             cellSize: Int = 128) throws {
        try PNGWriter.write(render(images: images, captions: captions, columns: columns, cellSize: cellSize), to: path)
    }

    /// Greedy word wrap to lines of at most `width` characters (long words are cut).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            var w = String(word)
            while w.count > width {
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(w.prefix(width)))
                w = String(w.dropFirst(width))
            }
            if current.isEmpty {
                current = w
            } else if current.count + 1 + w.count <= width {
                current += " " + w
            } else {
                lines.append(current)
                current = w
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    static func drawText(_ text: String, x: Int, y: Int, into image: inout RGBImage) {
        var cx = x
        for u in text.unicodeScalars {
            let code = (32...126).contains(u.value) ? Int(u.value) : 63
            let glyph = (code - 32) * BitmapFont.height
            for r in 0..<BitmapFont.height {
                let bits = BitmapFont.rows[glyph + r]
                for c in 0..<BitmapFont.width where bits & (0x80 >> UInt8(c)) != 0 {
                    let px = cx + c, py = y + r
                    guard px >= 0, py >= 0, px < image.width, py < image.height else { continue }
                    let i = (py * image.width + px) * 3
                    image.pixels[i] = 0
                    image.pixels[i + 1] = 0
                    image.pixels[i + 2] = 0
                }
            }
            cx += BitmapFont.width
        }
    }
}
