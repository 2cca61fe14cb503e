// swift-tools-version:6.0
//
// Kiln: convert, quantise, inspect, diff and run model checkpoints through one
// memory-mapped file format.
//
// No target here sets unsafe compiler flags: Kiln must stay usable as a versioned
// dependency. CPU-specific code lives in C targets with per-function
// `__attribute__((target(...)))` and run-time dispatch instead of build flags.
import PackageDescription

let package = Package(
    name: "Kiln",
    // macOS 14: Hummingbird 2 (the server behind `kiln-run serve`) needs it.
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Kiln", targets: ["Kiln"]),
        .executable(name: "kiln", targets: ["kiln"]),
        .executable(name: "kiln-run", targets: ["kiln-run"]),
        .plugin(name: "KilnCommandPlugin", targets: ["KilnCommandPlugin"]),
        .plugin(name: "KilnBuildPlugin", targets: ["KilnBuildPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 for provenance: BoringSSL / CryptoKit use the CPU's SHA instructions.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `swift package generate-documentation` (Tools/docs.sh); a command plugin, so apps that
        // depend on Kiln do not build it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // `kiln-run serve`: the HTTP server, its metrics text and its graceful shutdown.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // libzstd from the system: `apt-get install libzstd-dev` / `brew install zstd`.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        // zlib from the system: `apt-get install zlib1g-dev` / `brew install zlib`. Inflates
        // deflated `.npz` members.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // XXH64 in C; not API.
        .target(name: "CKilnSupport"),
        // Types, the element-type registry, metadata, errors and the `.kiln` reader and writer.
        .target(name: "KilnCore", dependencies: ["CKilnSupport", "CZstd", .product(name: "Crypto", package: "swift-crypto")]),
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
        .target(name: "KilnFormats", dependencies: ["KilnCore", "CZlib"]),
        // Quantisers (q8_0, q4_0, q4_1, kq4, q5, K-quants), recipes; the scale searches run in KilnKernels' C.
        .target(name: "KilnQuant", dependencies: ["KilnCore", "KilnKernels"]),
        // The chat-template interpreter (a sandboxed Jinja subset); depends on nothing of Kiln's.
        .target(name: "KilnChatTemplates"),
        // GPT-2 / Llama generation, tokenizer, sampling, chat sessions, perplexity, calibration.
        .target(name: "KilnRuntime", dependencies: ["KilnCore", "KilnFormats", "KilnQuant", "KilnKernels", "KilnChatTemplates"]),
        // The public face: re-exports the modules an app needs.
        .target(name: "Kiln", dependencies: ["KilnCore", "KilnFormats", "KilnKernels", "KilnQuant", "KilnRuntime"]),
        // What the two tools share: errors to messages and exit statuses, terminal output.
        .target(
            name: "KilnCommandLine",
            dependencies: ["KilnCore", "KilnChatTemplates", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "kiln",
            dependencies: ["Kiln", "KilnCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // `kiln-run serve`: an OpenAI-compatible HTTP server with continuous batching.
        .target(
            name: "KilnServer",
            dependencies: [
                "KilnCore", "KilnRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "kiln-run",
            dependencies: ["Kiln", "KilnCommandLine", "KilnServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Fuzz targets for every reader: Tools/fuzz.sh builds this with -sanitize=fuzzer,address
        // on the command line (libFuzzer); a plain build is a replay tool, `kiln-fuzz TARGET FILE…`.
        // Not a product: nothing depending on Kiln builds it.
        .executableTarget(name: "kiln-fuzz", dependencies: ["KilnCore", "KilnFormats", "KilnChatTemplates", "KilnRuntime"]),
        // `swift package kiln …`: the kiln tool from SwiftPM.
        .plugin(
            name: "KilnCommandPlugin",
            capability: .command(
                intent: .custom(verb: "kiln", description: "Run kiln (convert, quantize, inspect, verify) in this package"),
                permissions: [.writeToPackageDirectory(reason: "kiln writes converted and quantised model files")]),
            dependencies: ["kiln"]),
        // Converts and quantises the models a target lists in kiln-models.json, at build time.
        .plugin(name: "KilnBuildPlugin", capability: .buildTool(), dependencies: ["kiln"]),
        // Helpers shared by the test targets: fixture paths, seeded randomness, process runner.
        .target(name: "TestSupport", dependencies: ["KilnCore"], path: "Tests/TestSupport"),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore", "TestSupport"]),
        .testTarget(name: "KilnFormatsTests", dependencies: ["KilnFormats", "KilnCore", "TestSupport"]),
        .testTarget(name: "KilnQuantTests", dependencies: ["KilnQuant", "KilnKernels", "TestSupport"]),
        .testTarget(name: "KilnChatTemplatesTests", dependencies: ["KilnChatTemplates", "KilnCore", "KilnFormats", "TestSupport"]),
        .testTarget(name: "KilnRuntimeTests", dependencies: ["KilnRuntime", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Kiln", "TestSupport"]),
        .testTarget(name: "KilnKernelsTests", dependencies: ["KilnKernels", "CKilnKernels", "KilnCore", "TestSupport"]),
        // The real model through the release binaries (Tools/test.sh builds them first).
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"]),
    ]
)
