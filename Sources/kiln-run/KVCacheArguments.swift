import ArgumentParser

/// The KV cache's element type, shared by `generate`, `chat`, `serve` and `bench`.
///
/// f16 by default, as llama.cpp (`-ctk f16 -ctv f16`) and mlx-lm keep theirs: half the memory
/// (eight server slots of SmolLM2 at 4,096 positions: 755 MB instead of 1.5 GB), and decoding
/// at long contexts or with many sequences reads half the bytes (8 served streams +5–15%,
/// docs/PERFORMANCE.md). Keys and values are rounded to f16 once, when stored; every product
/// with them still runs in f32. `--kv-cache f32` keeps them exact, as `perplexity` and `logits`
/// always do (they measure the model, not a deployment of it).
struct KVCacheArguments: ParsableArguments {
    enum ElementType: String, ExpressibleByArgument, CaseIterable {
        case f16, f32
    }

    @Option(name: .customLong("kv-cache"), help: "KV cache element type: f16 (half the memory; llama.cpp's default) or f32.")
    var elementType: ElementType = .f16

    /// `--kv-f16` chose f16 before it became the default; scripts that pass it still run.
    @Flag(name: .customLong("kv-f16"), help: .hidden)
    var legacyHalf = false

    func validate() throws {
        if legacyHalf && elementType == .f32 { throw ValidationError("--kv-f16 and --kv-cache f32 ask for different KV caches; pass one") }
    }

    var halfPrecision: Bool { elementType == .f16 }
}
