import CImageCodecs
import Foundation

/// Decodes PNG (libpng's setjmp-free `png_image_*` API) and JPEG (libjpeg-turbo behind a C function that
/// keeps its longjmp inside C) into 8-bit RGB.
///
/// PNG: every colour type and bit depth (1/2/4/8-bit grey, palette with or without transparency, grey+alpha,
/// RGB, RGBA, 16-bit). Alpha is composited onto white in 8-bit sRGB values, `(c·a + 255·(255−a) + 127) / 255`,
/// like pasting onto a white PIL image. 16-bit samples keep their high byte, as PIL does. libpng applies a
/// file's gAMA/cHRM/iCCP conversion to sRGB (PIL ignores these chunks), so such files can differ from PIL.
public enum ImageDecoder {
    /// Images with more pixels than this are refused before any pixel buffer is allocated.
    public static let maxPixels = 1 << 27

    /// Decodes a PNG or JPEG file (detected from its first bytes). Errors name the path.
    public static func decode(path: String) throws -> RGBImage {
        try decode(readFile(path), name: path)
    }

    /// Decodes PNG or JPEG bytes; `name` (e.g. the file) prefixes error messages.
    public static func decode(_ bytes: [UInt8], name: String) throws -> RGBImage {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try decodePNG(bytes, name: name) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try decodeJPEG(bytes, name: name) }
        if bytes.isEmpty { throw GraphIOError(.image, "\(name): empty file (0 bytes)") }
        throw GraphIOError(.image, "\(name): not a PNG or JPEG file (first bytes \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))")
    }

    /// Decodes PNG bytes to RGB8 (alpha composited onto white).
    public static func decodePNG(_ bytes: [UInt8], name: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        func message() -> String {
            withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw GraphIOError(.image, "\(name): invalid PNG header: \(message())") }
        let w = Int(image.width), h = Int(image.height)
        guard w > 0, h > 0 else {
            png_image_free(&image)
            throw GraphIOError(.image, "\(name): PNG has zero size (\(w)x\(h))")
        }
        guard w * h <= maxPixels else {
            png_image_free(&image)
            throw GraphIOError(.image, "\(name): PNG is \(w)x\(h), more than the limit of \(maxPixels) pixels")
        }
        let sixteenBit = (image.format & UInt32(PNG_FORMAT_FLAG_LINEAR)) != 0
        var out = [UInt8](repeating: 0, count: w * h * 3)
        if sixteenBit {
            // Linear 16-bit output leaves 16-bit samples untouched (libpng assumes such files are linear)
            // but premultiplies alpha: composite onto white is then c_pm + (65535 − a).
            image.format = UInt32(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
            var buf = [UInt16](repeating: 0, count: w * h * 4)
            let ok = buf.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw GraphIOError(.image, "\(name): corrupt or truncated PNG: \(message())") }
            for i in 0..<(w * h) {
                let a = Int(buf[4 * i + 3])
                for c in 0..<3 { out[3 * i + c] = UInt8((Int(buf[4 * i + c]) + 65535 - a) >> 8) }
            }
        } else {
            image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
            var buf = [UInt8](repeating: 0, count: w * h * 4)
            let ok = buf.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw GraphIOError(.image, "\(name): corrupt or truncated PNG: \(message())") }
            for i in 0..<(w * h) {
                let a = Int(buf[4 * i + 3])
                for c in 0..<3 { out[3 * i + c] = UInt8((Int(buf[4 * i + c]) * a + 255 * (255 - a) + 127) / 255) }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Decodes JPEG bytes to RGB8 (greyscale expanded; CMYK is refused with libjpeg's message).
    public static func decodeJPEG(_ bytes: [UInt8], name: String) throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { b in
            err.withUnsafeMutableBufferPointer { e in
                graphc_jpeg_decode_rgb(b.baseAddress, UInt(b.count), Int64(maxPixels), &pixels, &w, &h, e.baseAddress, Int32(e.count))
            }
        }
        guard rc == 0, let pixels else {
            let msg = String(cString: err)
            throw GraphIOError(.image, "\(name): \(rc == 1 ? "corrupt JPEG: " : "")\(msg)")
        }
        defer { free(pixels) }
        let n = Int(w) * Int(h) * 3
        guard n > 0 else { throw GraphIOError(.image, "\(name): JPEG has zero size (\(w)x\(h))") }
        return RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: pixels, count: n)))
    }
}
