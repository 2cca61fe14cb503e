import KilnCore

/// The hyper-parameters of a decoder-only transformer, in Kiln's canonical form: the same for
/// a model read from GGUF, Hugging Face files, a nanoGPT/llama2.c/llm.c checkpoint or `.kiln`.
/// Stored in `.kiln` files as the `model.config` map (docs/FORMAT.md §12).
public struct ModelConfig: Sendable, Equatable {
    /// The block structure the runtime builds.
    public enum Family: String, Sendable {
        /// LayerNorm, learned positions, GELU (tanh), fused qkv, biases everywhere.
        case gpt2
        /// RMSNorm, RoPE, SwiGLU, grouped-query attention (Llama, SmolLM, Qwen2, Mistral…).
        case llama
    }

    /// How RoPE pairs dimensions: llama.cpp's "normal" rotates adjacent pairs (2i, 2i+1),
    /// "neox" rotates (i, i + d/2). Canonical Llama weights (GGUF's q/k row order) use normal.
    public enum RopeStyle: String, Sendable {
        /// Adjacent pairs (2i, 2i+1), as canonical (GGUF-ordered) Llama weights need.
        case normal
        /// Halves (i, i + d/2), as GPT-NeoX and Qwen2 in GGUF use.
        case neox
    }

    /// The architecture name as the source gave it (`llama`, `qwen2`, `gpt2`, …).
    public var architecture: String
    /// The block structure.
    public var family: Family
    /// Transformer blocks.
    public var layers: Int
    /// Width of the residual stream.
    public var embedding: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention); equal to `heads` without GQA.
    public var kvHeads: Int
    /// Width of each head (usually `embedding / heads`).
    public var headDim: Int
    /// Hidden width of the feed-forward block.
    public var feedForward: Int
    /// Rows of the token embedding: the number of token ids.
    public var vocabulary: Int
    /// The context length the model was trained for.
    public var context: Int
    /// The epsilon added inside LayerNorm or RMSNorm.
    public var normEpsilon: Double
    /// RoPE's frequency base θ (10 000 unless the model says otherwise).
    public var ropeBase: Double = 10_000
    /// Dimensions of each head that RoPE rotates (the rest pass through).
    public var ropeDimensions: Int = 0
    /// How RoPE pairs dimensions.
    public var ropeStyle: RopeStyle = .normal
    /// Linear RoPE scaling factor (positions divided by it); 1 when unscaled.
    public var ropeScale: Double = 1
    /// The output head reuses the token embedding.
    public var tiedEmbeddings: Bool
    /// q/k/v projections carry biases (Qwen2; always for GPT-2).
    public var attentionBias: Bool

    package init(
        architecture: String, family: Family, layers: Int, embedding: Int, heads: Int, kvHeads: Int, headDim: Int,
        feedForward: Int, vocabulary: Int, context: Int, normEpsilon: Double, tiedEmbeddings: Bool, attentionBias: Bool
    ) {
        self.architecture = architecture
        self.family = family
        self.layers = layers
        self.embedding = embedding
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.feedForward = feedForward
        self.vocabulary = vocabulary
        self.context = context
        self.normEpsilon = normEpsilon
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
        ropeDimensions = headDim
    }

    /// Checks the numbers are usable together, so the runtime can rely on them.
    package func validate() throws {
        func require(_ ok: Bool, _ message: String) throws {
            if !ok { throw KilnError(.malformed, "model config: \(message)") }
        }
        try require(layers > 0 && layers <= 1024, "layer count \(layers) is out of range")
        try require(embedding > 0 && heads > 0 && kvHeads > 0 && headDim > 0, "widths and head counts must be positive")
        try require(heads % kvHeads == 0, "\(heads) query heads are not a multiple of \(kvHeads) key/value heads")
        try require(feedForward > 0 && vocabulary > 0 && context > 0, "feed-forward width, vocabulary and context must be positive")
        try require(ropeDimensions >= 0 && ropeDimensions <= headDim && ropeDimensions % 2 == 0,
                    "RoPE dimensions \(ropeDimensions) must be even and at most the head size \(headDim)")
        try require(normEpsilon >= 0 && normEpsilon < 1, "norm epsilon \(normEpsilon) is out of range")
        try require(headDim * heads <= 1 << 20 && feedForward <= 1 << 20 && vocabulary <= 1 << 24, "sizes are implausibly large")
    }

    // MARK: Metadata

    package static let metadataKey = "model.config"

    package var metadata: MetadataValue {
        .map([
            "architecture": .string(architecture), "family": .string(family.rawValue),
            "layers": .int(Int64(layers)), "embedding": .int(Int64(embedding)),
            "heads": .int(Int64(heads)), "kv_heads": .int(Int64(kvHeads)), "head_dim": .int(Int64(headDim)),
            "feed_forward": .int(Int64(feedForward)), "vocabulary": .int(Int64(vocabulary)), "context": .int(Int64(context)),
            "norm_epsilon": .float(normEpsilon),
            "rope": .map(["base": .float(ropeBase), "dimensions": .int(Int64(ropeDimensions)),
                          "style": .string(ropeStyle.rawValue), "scale": .float(ropeScale)]),
            "tied_embeddings": .bool(tiedEmbeddings), "attention_bias": .bool(attentionBias),
        ])
    }

    package init(metadata value: MetadataValue) throws {
        guard let map = value.mapValue else { throw KilnError(.malformed, "\(Self.metadataKey) is not a map") }
        func int(_ key: String) throws -> Int {
            guard let v = map[key]?.intValue else { throw KilnError(.malformed, "\(Self.metadataKey).\(key) is missing or not an integer") }
            return v
        }
        func double(_ key: String) throws -> Double {
            guard let v = map[key]?.doubleValue else { throw KilnError(.malformed, "\(Self.metadataKey).\(key) is missing or not a number") }
            return v
        }
        guard let familyName = map["family"]?.stringValue, let family = Family(rawValue: familyName) else {
            throw KilnError(.unsupported, "\(Self.metadataKey).family is missing or unknown")
        }
        self.init(
            architecture: map["architecture"]?.stringValue ?? familyName, family: family, layers: try int("layers"),
            embedding: try int("embedding"), heads: try int("heads"), kvHeads: try int("kv_heads"), headDim: try int("head_dim"),
            feedForward: try int("feed_forward"), vocabulary: try int("vocabulary"), context: try int("context"),
            normEpsilon: try double("norm_epsilon"), tiedEmbeddings: map["tied_embeddings"]?.boolValue ?? false,
            attentionBias: map["attention_bias"]?.boolValue ?? false)
        if let rope = map["rope"]?.mapValue {
            ropeBase = rope["base"]?.doubleValue ?? ropeBase
            ropeDimensions = rope["dimensions"]?.intValue ?? ropeDimensions
            ropeStyle = rope["style"]?.stringValue.flatMap(RopeStyle.init) ?? ropeStyle
            ropeScale = rope["scale"]?.doubleValue ?? ropeScale
        }
        try validate()
    }
}
