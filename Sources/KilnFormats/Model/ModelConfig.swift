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

    /// The architecture's differences from the plain decoder, for `kiln inspect` and for refusing
    /// what the runtime lacks (the descriptor's features plus those the config turns on).
    public var features: Set<ArchitectureFeature> = []
    /// Per-head RMSNorm of queries and keys before RoPE (Qwen3, Gemma 3).
    public var queryKeyNorm = false
    /// RMSNorm of the attention and feed-forward outputs before each residual add (Gemma 3).
    public var postNorms = false
    /// The token embedding is multiplied by this before the first block (√width for Gemma).
    public var embeddingScale: Double = 1
    /// The activation of the gated feed-forward.
    public var gateActivation: GateActivation = .silu
    /// Queries are multiplied by this before `Q·Kᵀ`; nil means 1/√``headDim``.
    public var attentionScale: Double?
    /// Final logits become cap · tanh(logits / cap); nil for none.
    public var finalLogitSoftcap: Double?
    /// Positions (its own included) a query of a local layer sees; nil without sliding windows.
    public var slidingWindow: Int?
    /// Which layers are local (sliding-window); empty means every layer, when ``slidingWindow`` is set.
    public var localLayers: [Bool] = []
    /// RoPE base of local layers (Gemma 3's `rope_local_base_freq`); nil means ``ropeBase``.
    public var localRopeBase: Double?
    /// Frequency-dependent RoPE scaling of the global layers.
    public var ropeScaling: RopeScaling = .none

    /// The gated feed-forward's activation: `act(gate) · up`.
    public enum GateActivation: String, Sendable {
        /// SiLU (SwiGLU): Llama, Qwen, Mistral.
        case silu
        /// GELU with the tanh approximation (GeGLU): Gemma.
        case geluTanh = "gelu_tanh"
    }

    /// RoPE scaling that changes each frequency differently (linear scaling is ``ropeScale``).
    public enum RopeScaling: Sendable, Equatable {
        /// Unscaled.
        case none
        /// Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
        /// YaRN: frequencies ramped between interpolation and extrapolation by `betaFast`/`betaSlow`
        /// rotations, cosines and sines scaled by `attentionFactor`.
        case yarn(factor: Double, originalContext: Int, betaFast: Double, betaSlow: Double, attentionFactor: Double)
        /// Each pair's frequency divided by its own factor, as llama.cpp's `rope_freqs.weight`
        /// holds them (its converter writes Llama 3.x scaling this way).
        case factors([Double])
    }

    /// Whether layer `layer` uses sliding-window attention.
    public func isLocal(layer: Int) -> Bool {
        guard slidingWindow != nil else { return false }
        return localLayers.isEmpty || (layer < localLayers.count && localLayers[layer])
    }

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
        try require(slidingWindow.map { $0 > 0 } ?? true, "sliding window \(slidingWindow ?? 0) must be positive")
        try require(localLayers.isEmpty || localLayers.count == layers, "\(localLayers.count) local-layer flags for \(layers) layers")
        try require(embeddingScale.isFinite && embeddingScale > 0 && (attentionScale.map { $0.isFinite && $0 > 0 } ?? true)
                    && (finalLogitSoftcap.map { $0.isFinite && $0 > 0 } ?? true), "scales must be positive and finite")
        if case .factors(let values) = ropeScaling {
            try require(values.count == ropeDimensions / 2 && values.allSatisfy { $0.isFinite && $0 > 0 },
                        "\(values.count) RoPE frequency factors for \(ropeDimensions / 2) rotary pairs")
        }
    }

    // MARK: Metadata

    package static let metadataKey = "model.config"

    package var metadata: MetadataValue {
        var map = baseMetadata
        // Written only when set, so the config of a plain Llama reads as it always has.
        if !features.isEmpty { map["features"] = .array(features.sorted().map { .string($0.rawValue) }) }
        if queryKeyNorm { map["qk_norm"] = .bool(true) }
        if postNorms { map["post_norms"] = .bool(true) }
        if embeddingScale != 1 { map["embedding_scale"] = .float(embeddingScale) }
        if gateActivation != .silu { map["gate_activation"] = .string(gateActivation.rawValue) }
        if let attentionScale { map["attention_scale"] = .float(attentionScale) }
        if let finalLogitSoftcap { map["final_logit_softcap"] = .float(finalLogitSoftcap) }
        if let slidingWindow { map["sliding_window"] = .int(Int64(slidingWindow)) }
        if !localLayers.isEmpty { map["local_layers"] = .array(localLayers.map(MetadataValue.bool)) }
        if let localRopeBase { map["local_rope_base"] = .float(localRopeBase) }
        switch ropeScaling {
        case .none: break
        case .llama3(let factor, let low, let high, let original):
            map["rope_scaling"] = .map(["type": .string("llama3"), "factor": .float(factor), "low_freq_factor": .float(low),
                                        "high_freq_factor": .float(high), "original_context": .int(Int64(original))])
        case .yarn(let factor, let original, let fast, let slow, let attention):
            map["rope_scaling"] = .map(["type": .string("yarn"), "factor": .float(factor), "original_context": .int(Int64(original)),
                                        "beta_fast": .float(fast), "beta_slow": .float(slow), "attention_factor": .float(attention)])
        case .factors(let values):
            map["rope_scaling"] = .map(["type": .string("factors"), "values": .array(values.map(MetadataValue.float))])
        }
        return .map(map)
    }

    private var baseMetadata: [String: MetadataValue] {
        ([
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
        for name in map["features"]?.arrayValue ?? [] {
            guard let string = name.stringValue, let feature = ArchitectureFeature(rawValue: string) else {
                throw KilnError(.unsupported, "\(Self.metadataKey).features names '\(name.stringValue ?? "?")', a feature this Kiln does not know")
            }
            features.insert(feature)
        }
        queryKeyNorm = map["qk_norm"]?.boolValue ?? false
        postNorms = map["post_norms"]?.boolValue ?? false
        embeddingScale = map["embedding_scale"]?.doubleValue ?? 1
        if let name = map["gate_activation"]?.stringValue {
            guard let activation = GateActivation(rawValue: name) else {
                throw KilnError(.unsupported, "\(Self.metadataKey).gate_activation '\(name)' is unknown")
            }
            gateActivation = activation
        }
        attentionScale = map["attention_scale"]?.doubleValue
        finalLogitSoftcap = map["final_logit_softcap"]?.doubleValue
        slidingWindow = map["sliding_window"]?.intValue
        localLayers = map["local_layers"]?.arrayValue?.compactMap(\.boolValue) ?? []
        localRopeBase = map["local_rope_base"]?.doubleValue
        if let scaling = map["rope_scaling"]?.mapValue {
            let f = { (key: String) in scaling[key]?.doubleValue ?? 0 }
            switch scaling["type"]?.stringValue {
            case "llama3":
                ropeScaling = .llama3(factor: f("factor"), lowFrequencyFactor: f("low_freq_factor"),
                                      highFrequencyFactor: f("high_freq_factor"), originalContext: scaling["original_context"]?.intValue ?? 0)
            case "yarn":
                ropeScaling = .yarn(factor: f("factor"), originalContext: scaling["original_context"]?.intValue ?? 0,
                                    betaFast: f("beta_fast"), betaSlow: f("beta_slow"), attentionFactor: f("attention_factor"))
            case "factors":
                ropeScaling = .factors(scaling["values"]?.arrayValue?.compactMap(\.doubleValue) ?? [])
            default:
                throw KilnError(.unsupported, "\(Self.metadataKey).rope_scaling has an unknown type")
            }
        }
        try validate()
    }
}
