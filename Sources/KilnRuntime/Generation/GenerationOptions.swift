/// What a generation produces and when it stops.
public struct GenerationOptions: Sendable, Equatable {
    /// The most tokens to generate.
    public var maxTokens: Int = 128
    /// How each token is chosen; the default samples with temperature 0.8, ``SamplingOptions/greedy`` is deterministic.
    public var sampling = SamplingOptions()
    /// Text that ends the generation when it appears (it is not emitted).
    public var stopStrings: [String] = []
    /// Stop at the model's end-of-sequence / end-of-turn tokens.
    public var stopAtEOS = true
    /// Positions the KV cache holds (prompt + generated); nil uses min(model context, 4096).
    public var contextLength: Int?
    /// Keep the KV cache in f16 (half the memory) instead of f32.
    public var halfPrecisionKVCache = false

    /// Options with each field as documented.
    public init(maxTokens: Int = 128, sampling: SamplingOptions = SamplingOptions(), stopStrings: [String] = [],
                stopAtEOS: Bool = true, contextLength: Int? = nil, halfPrecisionKVCache: Bool = false) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopAtEOS = stopAtEOS
        self.contextLength = contextLength
        self.halfPrecisionKVCache = halfPrecisionKVCache
    }
}

/// Why a generation ended.
public enum StopReason: String, Sendable {
    /// ``GenerationOptions/maxTokens`` were generated.
    case maxTokens
    /// The model produced its end-of-sequence or end-of-turn token.
    case endOfSequence
    /// One of ``GenerationOptions/stopStrings`` appeared.
    case stopString
    /// The KV cache is full: the context length was reached.
    case contextFull
}

/// Counts and timings of one generation.
public struct GenerationStatistics: Sendable {
    /// Tokens of the prompt processed.
    public var promptTokens = 0
    /// Tokens generated.
    public var generatedTokens = 0
    /// The generated token ids in order (an end token that stopped the generation is not one).
    public var generatedIDs: [Int] = []
    /// Time spent on the prompt (to the first generated token), in seconds.
    public var promptSeconds = 0.0
    /// Time spent generating after the first token, in seconds.
    public var generationSeconds = 0.0
    /// Why generation ended.
    public var stopReason = StopReason.maxTokens

    /// Prompt processing speed, in tokens per second.
    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    /// Decode speed: tokens after the first, over the time spent producing them.
    public var generatedTokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0 }
}
