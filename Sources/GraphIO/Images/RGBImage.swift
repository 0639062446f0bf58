/// An 8-bit RGB image, rows top to bottom, pixels interleaved `r g b`.
public struct RGBImage: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// `pixels` holds `width·height·3` bytes, row by row.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniformly filled image.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            p[3 * i] = fill.0
            p[3 * i + 1] = fill.1
            p[3 * i + 2] = fill.2
        }
        self.init(width: width, height: height, pixels: p)
    }

    /// The sub-image `x..<x+w, y..<y+h` (must lie inside the image).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height, "crop outside the image")
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<h {
            let src = ((y + r) * width + x) * 3
            p[(r * w * 3)..<((r + 1) * w * 3)] = pixels[src..<(src + w * 3)]
        }
        return RGBImage(width: w, height: h, pixels: p)
    }

    /// Mirrored left to right.
    public func flippedHorizontally() -> RGBImage {
        var p = pixels
        for r in 0..<height {
            for c in 0..<width {
                let s = (r * width + (width - 1 - c)) * 3
                let d = (r * width + c) * 3
                p[d] = pixels[s]
                p[d + 1] = pixels[s + 1]
                p[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: p)
    }
}
