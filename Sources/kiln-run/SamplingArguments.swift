import ArgumentParser
import Kiln

/// The sampling and length options of `kiln-run`, named as llama.cpp names them. Numeric
/// options parse their value unconditionally, so `--temp -1` reaches validation and is refused
/// for what it is, instead of "missing value" (ArgumentParser takes `-1` for an option).
struct SamplingArguments: ParsableArguments {
    @Option(name: [.short, .customLong("n-predict")], parsing: .unconditional, help: "Tokens to generate.")
    var n: Int = 128

    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(parsing: .unconditional, help: "Keep the K most likely tokens (0: all).")
    var topK: Int = 40

    @Option(parsing: .unconditional, help: "Nucleus sampling threshold (1: off).")
    var topP: Float = 0.95

    @Option(parsing: .unconditional, help: "Drop tokens less likely than P × the most likely (0: off).")
    var minP: Float = 0.05

    @Option(parsing: .unconditional, help: "Penalty for recently generated tokens (1: off).")
    var repeatPenalty: Float = 1.0

    @Option(name: .shortAndLong, parsing: .unconditional, help: "Seed for reproducible sampling (negative: random, as llama.cpp's -1).")
    var seed: Int64?

    @Option(name: [.short, .customLong("ctx-size"), .customLong("ctx")], parsing: .unconditional,
            help: "Context length (KV cache positions); default min(model context, 4096).")
    var ctx: Int?

    @OptionGroup var cache: KVCacheArguments

    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable).")
    var stopStrings: [String] = []

    func validate() throws {
        // One message per option, naming the value given.
        guard n >= 0 else { throw ValidationError("-n/--n-predict must be at least 0; got \(n)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temp must be at least 0 (0 is greedy); got \(temperature)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be at least 0 (0 keeps all); got \(topK)") }
        guard (0...1).contains(topP) else { throw ValidationError("--top-p must be between 0 and 1; got \(topP)") }
        guard (0...1).contains(minP) else { throw ValidationError("--min-p must be between 0 and 1; got \(minP)") }
        guard repeatPenalty > 0, repeatPenalty.isFinite else { throw ValidationError("--repeat-penalty must be above 0 (1 is off); got \(repeatPenalty)") }
        if let ctx, ctx < 2 { throw ValidationError("-c/--ctx-size must be at least 2; got \(ctx)") }
    }

    var options: GenerationOptions {
        GenerationOptions(
            maxTokens: n,
            sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                      repetitionPenalty: repeatPenalty, seed: seed.flatMap { $0 < 0 ? nil : UInt64($0) }),
            stopStrings: stopStrings, contextLength: ctx, halfPrecisionKVCache: cache.halfPrecision)
    }
}
