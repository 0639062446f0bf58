import Foundation

/// Bicubic resampling that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit images
/// bit for bit: Keys cubic with a = −0.5, the kernel widened by the scale factor when downsampling
/// (antialiasing), coefficients normalised per output pixel and quantised to 22 fractional bits,
/// a horizontal pass rounded and clamped to uint8, then a vertical pass the same way.
public enum BicubicResize {
    static let precisionBits = 32 - 8 - 2

    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// For each output index: first input index, number of taps, and fixed-point weights.
    struct Coefficients {
        var first: [Int] = []
        var count: [Int] = []
        var weights: [[Int32]] = []
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the input span `in0..<in1` of `inSize`.
    static func coefficients(inSize: Int, in0: Double, in1: Double, outSize: Int) -> Coefficients {
        let scale = (in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        var c = Coefficients()
        for xx in 0..<outSize {
            let center = in0 + (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var k = [Double](repeating: 0, count: max(xmax, 0))
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let w = cubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            let one = Double(1 << precisionBits)
            let fixed: [Int32] = k.map { v in
                let n = ww != 0 ? v / ww : v
                return Int32(n < 0 ? (-0.5 + n * one).rounded(.towardZero) : (0.5 + n * one).rounded(.towardZero))
            }
            c.first.append(xmin)
            c.count.append(max(xmax, 0))
            c.weights.append(fixed)
        }
        return c
    }

    @inline(__always)
    static func clip8(_ v: Int64) -> UInt8 {
        let s = v >> Int64(precisionBits)
        return s < 0 ? 0 : (s > 255 ? 255 : UInt8(s))
    }

    /// Resizes (optionally from the source box `x0,y0,x1,y1`, Pillow's `box` argument) to `width`×`height`.
    public static func resize(_ image: RGBImage, width: Int, height: Int,
                              box: (Double, Double, Double, Double)? = nil) -> RGBImage {
        precondition(width > 0 && height > 0 && image.width > 0 && image.height > 0, "resize of an empty image")
        let b = box ?? (0, 0, Double(image.width), Double(image.height))
        let needH = width != image.width || b.0 != 0 || b.2 != Double(width)
        let needV = height != image.height || b.1 != 0 || b.3 != Double(height)
        let horiz = coefficients(inSize: image.width, in0: b.0, in1: b.2, outSize: width)
        let vert = coefficients(inSize: image.height, in0: b.1, in1: b.3, outSize: height)
        var current = image
        var rowOffset = 0
        if needH {
            // Only the rows the vertical pass will read.
            let first = vert.first[0]
            let last = vert.first[height - 1] + vert.count[height - 1]
            rowOffset = first
            let rows = last - first
            var out = [UInt8](repeating: 0, count: width * rows * 3)
            let half = Int64(1) << Int64(precisionBits - 1)
            for y in 0..<rows {
                let srcRow = (y + first) * image.width * 3
                for xx in 0..<width {
                    let x0 = horiz.first[xx]
                    let k = horiz.weights[xx]
                    var s0 = half, s1 = half, s2 = half
                    for t in 0..<horiz.count[xx] {
                        let p = srcRow + (x0 + t) * 3
                        let w = Int64(k[t])
                        s0 += Int64(image.pixels[p]) * w
                        s1 += Int64(image.pixels[p + 1]) * w
                        s2 += Int64(image.pixels[p + 2]) * w
                    }
                    let o = (y * width + xx) * 3
                    out[o] = clip8(s0)
                    out[o + 1] = clip8(s1)
                    out[o + 2] = clip8(s2)
                }
            }
            current = RGBImage(width: width, height: rows, pixels: out)
        }
        if needV {
            var out = [UInt8](repeating: 0, count: width * height * 3)
            let half = Int64(1) << Int64(precisionBits - 1)
            let w3 = current.width * 3
            for yy in 0..<height {
                let y0 = vert.first[yy] - rowOffset
                let k = vert.weights[yy]
                for x in 0..<(current.width * 3) {
                    var s = half
                    for t in 0..<vert.count[yy] { s += Int64(current.pixels[(y0 + t) * w3 + x]) * Int64(k[t]) }
                    out[yy * w3 + x] = clip8(s)
                }
            }
            current = RGBImage(width: current.width, height: height, pixels: out)
        }
        return current
    }
}
