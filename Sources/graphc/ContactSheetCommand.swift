import ArgumentParser
import Foundation
import GraphIO

/// `graphc contact-sheet`: a PNG of one batch (images as fed to the model, with their captions), to look at data.
struct ContactSheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact-sheet",
        abstract: "Write a PNG grid of one batch of images with their captions.",
        discussion: """
            DATA is `shapes` (the built-in procedural set, the default), a folder with captions.json, a COCO caption file, or a .jsonl of {"image", "caption"} lines (see Docs/Data.md). Images go through the same loader as training: resize (or, with --augment, random resized crop and flip) to --image-size.

              graphc contact-sheet --out shapes.png
              graphc contact-sheet shapes --split held-out --seed 3 --augment --out augmented.png
              graphc contact-sheet data/val --count 8 --out val.png
            """
    )

    @Argument(help: ArgumentHelp("shapes, or a caption folder/file.", valueName: "DATA"))
    var data = "shapes"

    @Option(help: "Output PNG file.")
    var out: String

    @Option(help: "Number of images.")
    var count = 16

    @Option(help: "Side length the images are resized to (model input size).")
    var imageSize = 64

    @Option(help: "Cell size in the sheet (pixels).")
    var cellSize = 128

    @Option(help: "Columns of the grid.")
    var columns = 4

    @Option(help: "Seed for the procedural set, the shuffle and the augmentation.")
    var seed: UInt64 = 0

    @Option(help: "Split of the procedural set: train or held-out.")
    var split = "train"

    @Flag(help: "Shuffle the samples (seeded).")
    var shuffle = false

    @Flag(help: "Apply the training augmentation (random resized crop, horizontal flip).")
    var augment = false

    @Flag(help: "Skip (and count) images that cannot be read instead of stopping.")
    var skipBad = false

    func run() throws {
        do {
            let (written, skipped) = try write()
            print("wrote \(written) images to \(out)" + (skipped.isEmpty ? "" : "; skipped \(skipped.count) unreadable:"))
            for s in skipped { print("  " + s) }
        } catch let e as GraphIOError {
            throw CLIError(e.description)
        }
    }

    /// Writes the sheet; returns the number of images on it and the messages of skipped samples.
    func write() throws -> (Int, [String]) {
        guard count > 0, imageSize >= 8, cellSize >= 16, columns > 0 else {
            throw CLIError("--count and --columns must be positive, --image-size at least 8, --cell-size at least 16")
        }
        let dataset: any ImageCaptionDataset
        if data == "shapes" {
            guard let s = ["train": ShapesDataset.Split.train, "held-out": .heldOut][split] else {
                throw CLIError("--split must be train or held-out, not \(split)")
            }
            dataset = ShapesDataset(split: s, count: count, imageSize: imageSize, seed: seed)
        } else {
            dataset = try CaptionFileDataset.open(data)
        }
        var options = DataLoader.Options(batchSize: count)
        options.shuffle = shuffle
        options.seed = seed
        options.augment = augment
        options.onBadSample = skipBad ? .skipAndCount : .fail
        let loader = DataLoader(dataset: dataset, preprocessor: ImagePreprocessor(size: imageSize), options: options)
        guard let batch = try loader.epoch(0).next() else { throw CLIError("\(data): no samples") }
        try ContactSheet.write(images: batch.images, captions: batch.captions, to: out, columns: columns, cellSize: cellSize)
        return (batch.images.count, loader.skipped)
    }
}
