// swift-tools-version: 6.1
import PackageDescription

// Module layering (imports run one way):
//   GraphIR  <-  GraphAutodiff, GraphPasses, GraphRuntime(+CBLAS), GraphNN, GraphIO(+CImageCodecs)
//   GraphNN  <-  BLIP2
//   BLIP2, GraphIO, GraphAutodiff, GraphRuntime  <-  BLIP2HF (Hugging Face checkpoints, parity runs)
//   everything  <-  graphc (CLI), Trainers (Examples), GraphBench (Benchmarks)
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "graphc",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "GraphIR", targets: ["GraphIR"]),
        .library(name: "GraphAutodiff", targets: ["GraphAutodiff"]),
        .library(name: "GraphPasses", targets: ["GraphPasses"]),
        .library(name: "GraphRuntime", targets: ["GraphRuntime"]),
        .library(name: "GraphNN", targets: ["GraphNN"]),
        .library(name: "BLIP2", targets: ["BLIP2"]),
        .library(name: "GraphIO", targets: ["GraphIO"]),
        .library(name: "BLIP2HF", targets: ["BLIP2HF"]),
        .executable(name: "graphc", targets: ["graphc"]),
        .executable(name: "blip2-train", targets: ["blip2-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(name: "CImageCodecs", providers: [.apt(["libpng-dev", "libjpeg-dev"])]),
        .target(name: "GraphIR", swiftSettings: v5),
        .target(name: "GraphAutodiff", dependencies: ["GraphIR"], swiftSettings: v5),
        .target(name: "GraphPasses", dependencies: ["GraphIR"], swiftSettings: v5),
        // Hot f32 kernels in C, built per instruction set and chosen at run time (no unsafe flags; Docs/Runtime.md).
        .target(name: "CRuntimeKernels"),
        .target(name: "GraphRuntime", dependencies: ["GraphIR", "CBLAS", "CRuntimeKernels"], swiftSettings: v5),
        .target(name: "GraphNN", dependencies: ["GraphIR"], swiftSettings: v5),
        .target(name: "BLIP2", dependencies: ["GraphIR", "GraphNN"], swiftSettings: v5),
        .target(name: "GraphIO", dependencies: ["GraphIR", "CImageCodecs"], swiftSettings: v5),
        .target(name: "BLIP2HF", dependencies: ["GraphIR", "GraphNN", "BLIP2", "GraphIO", "GraphAutodiff", "GraphPasses", "GraphRuntime"],
                swiftSettings: v5),
        .executableTarget(
            name: "graphc",
            dependencies: [
                "GraphIR", "GraphAutodiff", "GraphPasses", "GraphRuntime", "GraphNN", "BLIP2", "GraphIO", "BLIP2HF",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: v5
        ),
        // The example trainers: shared training infrastructure, and the command-line driver.
        .target(
            name: "TrainingKit",
            dependencies: ["GraphIR", "GraphAutodiff", "GraphPasses", "GraphRuntime", "GraphNN", "BLIP2", "GraphIO"],
            path: "Examples/TrainingKit",
            swiftSettings: v5
        ),
        .executableTarget(
            name: "blip2-train",
            dependencies: ["TrainingKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Trainers",
            swiftSettings: v5
        ),
        .executableTarget(
            name: "GraphBench",
            dependencies: ["GraphIR", "GraphAutodiff", "GraphPasses", "GraphRuntime", "GraphNN", "CBLAS", "BLIP2", "TrainingKit"],
            path: "Benchmarks/GraphBench",
            swiftSettings: v5
        ),
        .testTarget(name: "GraphIRTests", dependencies: ["GraphIR"], swiftSettings: v5),
        .testTarget(name: "GraphAutodiffTests", dependencies: ["GraphIR", "GraphAutodiff", "GraphNN"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "GraphPassesTests", dependencies: ["GraphIR", "GraphPasses", "GraphAutodiff", "GraphNN", "GraphRuntime", "BLIP2"],
                    resources: [.copy("Inputs")], swiftSettings: v5),
        .testTarget(name: "GraphRuntimeTests", dependencies: ["GraphIR", "GraphRuntime", "GraphAutodiff", "GraphNN", "CBLAS", "CRuntimeKernels"], swiftSettings: v5),
        .testTarget(name: "GraphNNTests", dependencies: ["GraphIR", "GraphNN", "GraphAutodiff"], swiftSettings: v5),
        .testTarget(name: "BLIP2Tests", dependencies: ["GraphIR", "GraphNN", "BLIP2", "GraphPasses", "GraphAutodiff", "GraphRuntime", "GraphIO", "BLIP2HF"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "GraphIOTests", dependencies: ["GraphIR", "GraphIO"], resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "TrainingKitTests", dependencies: ["TrainingKit", "GraphIR", "GraphIO", "GraphRuntime", "BLIP2"], swiftSettings: v5),
        .testTarget(name: "graphcTests", dependencies: ["graphc", "BLIP2HF", "GraphIO"], swiftSettings: v5),
    ]
)
