import Foundation
import GraphIR

/// Turns decoded images into model input, as Hugging Face's `BlipImageProcessor` does: bicubic resize to a
/// square (Pillow-exact, see `BicubicResize`), rescale by 1/255, normalise with the OpenAI CLIP mean and std,
/// channels first. Training augmentation (random resized crop, horizontal flip) follows torchvision's
/// `RandomResizedCrop` / `RandomHorizontalFlip` and draws from a `SeededGenerator`, so it is reproducible.
public struct ImagePreprocessor: Sendable {
    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Output side length (images come out `size`×`size`).
    public var size: Int
    public var mean: [Float]
    public var std: [Float]
    public var rescaleFactor: Double

    /// Output `size`×`size`; defaults are BLIP-2's (CLIP mean and std, 1/255).
    public init(size: Int, mean: [Float] = ImagePreprocessor.clipMean, std: [Float] = ImagePreprocessor.clipStd,
                rescaleFactor: Double = 1.0 / 255.0) {
        precondition(size > 0 && mean.count == 3 && std.count == 3)
        self.size = size
        self.mean = mean
        self.std = std
        self.rescaleFactor = rescaleFactor
    }

    /// Resized to `size`×`size` (no augmentation).
    public func resized(_ image: RGBImage) -> RGBImage {
        BicubicResize.resize(image, width: size, height: size)
    }

    /// Random resized crop (area fraction in `scale`, aspect ratio in `ratio`, torchvision's 10 tries and
    /// centre-crop fallback), then a horizontal flip with probability `flipProbability`.
    public func augmented(_ image: RGBImage, rng: inout SeededGenerator, scale: ClosedRange<Double> = 0.5...1.0,
                          ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0), flipProbability: Double = 0.5) -> RGBImage {
        let (x, y, w, h) = ImagePreprocessor.cropBox(width: image.width, height: image.height, rng: &rng, scale: scale, ratio: ratio)
        var out = BicubicResize.resize(image, width: size, height: size,
                                       box: (Double(x), Double(y), Double(x + w), Double(y + h)))
        if rng.unit() < flipProbability { out = out.flippedHorizontally() }
        return out
    }

    /// torchvision `RandomResizedCrop.get_params`: returns x, y, width, height of the crop.
    public static func cropBox(width: Int, height: Int, rng: inout SeededGenerator, scale: ClosedRange<Double>,
                               ratio: ClosedRange<Double>) -> (Int, Int, Int, Int) {
        let area = Double(width * height)
        let logLo = log(ratio.lowerBound), logHi = log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + rng.unit() * (scale.upperBound - scale.lowerBound))
            let aspect = exp(logLo + rng.unit() * (logHi - logLo))
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0, w <= width, h > 0, h <= height {
                let y = rng.below(height - h + 1)
                let x = rng.below(width - w + 1)
                return (x, y, w, h)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded())
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded())
        }
        return ((width - w) / 2, (height - h) / 2, w, h)
    }

    /// Rescaled and normalised values, channels first: `[3, height, width]` flattened. The image must already
    /// be the wanted size (call `resized` or `augmented` first).
    public func normalized(_ image: RGBImage) -> [Float] {
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * n)
        for c in 0..<3 {
            let m = mean[c], s = std[c]
            for i in 0..<n {
                // As transformers does: rescale in float64, cast to float32, then (x - mean) / std in float32.
                let x = Float(Double(image.pixels[3 * i + c]) * rescaleFactor)
                out[c * n + i] = (x - m) / s
            }
        }
        return out
    }

    /// `[B, 3, size, size]` f32 tensor from already-sized images.
    public func batchTensor(_ images: [RGBImage]) -> Tensor {
        var values: [Double] = []
        values.reserveCapacity(images.count * 3 * size * size)
        for im in images {
            precondition(im.width == size && im.height == size, "batchTensor: image is \(im.width)x\(im.height), expected \(size)x\(size)")
            values.append(contentsOf: normalized(im).map(Double.init))
        }
        return Tensor(.f32, [images.count, 3, size, size], values)
    }

    /// Resize + rescale + normalise a batch (evaluation preprocessing): `[B, 3, size, size]`.
    public func pixelValues(_ images: [RGBImage]) -> Tensor {
        batchTensor(images.map(resized))
    }
}
