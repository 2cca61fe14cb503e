// swift-tools-version:6.0
//
// Kiln: convert, quantise, inspect, diff and run model checkpoints through one
// memory-mapped file format.
//
// No target here uses `unsafeFlags`: Kiln must stay usable as a versioned
// dependency. CPU-specific code lives in C targets with per-function
// `__attribute__((target(...)))` and run-time dispatch instead of build flags.
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Kiln", targets: ["Kiln"]),
        .executable(name: "kiln", targets: ["kiln"]),
        .executable(name: "kiln-run", targets: ["kiln-run"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libzstd from the system: `apt-get install libzstd-dev` / `brew install zstd`.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        // Small C helpers (hashes); not API.
        .target(name: "CKilnSupport"),
        // Types, the element-type registry, metadata, errors and the `.kiln` reader and writer.
        .target(name: "KilnCore", dependencies: ["CKilnSupport", "CZstd"]),
        // The hot loops in C: a portable tier, AVX2+FMA+F16C and NEON/dotprod tiers in functions
        // with `__attribute__((target(...)))`, the CPU probe and the thread pool.
        .target(
            name: "CKilnKernels",
            linkerSettings: [
                .linkedLibrary("m", .when(platforms: [.linux])),
                .linkedLibrary("pthread", .when(platforms: [.linux])),
            ]
        ),
        // The kernels' Swift face: scalar references, the tier table chosen at start-up, the API.
        .target(name: "KilnKernels", dependencies: ["CKilnKernels", "KilnCore"]),
        // Readers and writers for other checkpoint layouts.
        .target(name: "KilnFormats", dependencies: ["KilnCore"]),
        // The public face: re-exports the modules an app needs.
        .target(name: "Kiln", dependencies: ["KilnCore", "KilnFormats", "KilnKernels"]),
        .executableTarget(
            name: "kiln",
            dependencies: ["Kiln", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "kiln-run",
            dependencies: ["Kiln", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Helpers shared by the test targets: fixture paths, seeded randomness, process runner.
        .target(name: "TestSupport", dependencies: ["KilnCore"], path: "Tests/TestSupport"),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore", "TestSupport"]),
        .testTarget(name: "KilnFormatsTests", dependencies: ["KilnFormats", "KilnCore", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Kiln", "TestSupport"]),
        .testTarget(name: "KilnKernelsTests", dependencies: ["KilnKernels", "CKilnKernels", "KilnCore", "TestSupport"]),
    ]
)
