import ArgumentParser
import Kiln

/// The sampling and length options of `kiln-run` (llama.cpp's vocabulary).
struct SamplingArguments: ParsableArguments {
    @Option(name: .short, help: "Tokens to generate.")
    var n: Int = 128

    @Option(name: .customLong("temp"), help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(help: "Keep the K most likely tokens (0: all).")
    var topK: Int = 40

    @Option(help: "Nucleus sampling threshold (1: off).")
    var topP: Float = 0.95

    @Option(help: "Drop tokens less likely than P × the most likely (0: off).")
    var minP: Float = 0.05

    @Option(help: "Penalty for recently generated tokens (1: off).")
    var repeatPenalty: Float = 1.0

    @Option(help: "Seed for reproducible sampling.")
    var seed: UInt64?

    @Option(help: "Context length (KV cache positions); default min(model context, 4096).")
    var ctx: Int?

    @Flag(help: "Keep the KV cache in f16 (half the memory).")
    var kvF16 = false

    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable).")
    var stopStrings: [String] = []

    func validate() throws {
        guard n >= 0 else { throw ValidationError("-n must not be negative") }
        guard temperature >= 0, topK >= 0, (0...1).contains(topP), (0...1).contains(minP), repeatPenalty > 0 else {
            throw ValidationError("sampling options out of range (temp ≥ 0, top-k ≥ 0, 0 ≤ top-p, min-p ≤ 1, repeat-penalty > 0)")
        }
        if let ctx, ctx < 2 { throw ValidationError("--ctx must be at least 2") }
    }

    var options: GenerationOptions {
        GenerationOptions(
            maxTokens: n,
            sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                      repetitionPenalty: repeatPenalty, seed: seed),
            stopStrings: stopStrings, contextLength: ctx, halfPrecisionKVCache: kvF16)
    }
}
