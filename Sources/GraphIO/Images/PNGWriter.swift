import CImageCodecs

/// Writes 8-bit RGB PNGs through libpng's `png_image_write_to_memory` (zlib compression), atomically.
public enum PNGWriter {
    /// PNG bytes of an RGB8 image.
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else { throw GraphIOError(.image, "cannot write an empty \(image.width)x\(image.height) PNG") }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        var size: Int = 0
        let sized = image.pixels.withUnsafeBytes { png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard sized != 0, size > 0 else { throw GraphIOError(.image, "PNG encoding failed: \(pngMessage(png))") }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { o in
            image.pixels.withUnsafeBytes { png_image_write_to_memory(&png, o.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok != 0 else { throw GraphIOError(.image, "PNG encoding failed: \(pngMessage(png))") }
        return Array(out.prefix(size))
    }

    /// Encodes and writes atomically (temporary file, fsync, rename).
    public static func write(_ image: RGBImage, to path: String) throws {
        try writeAtomically(encode(image), to: path)
    }

    static func pngMessage(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
