import KilnCore

/// A difference from the plain Llama decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention)
/// that an architecture needs. The runtime implements some; a model that needs one it lacks is
/// refused by name instead of running silently wrong.
public enum ArchitectureFeature: String, Sendable, CaseIterable, Comparable {
    /// Biases on the q/k/v projections (Qwen2).
    case qkvBias = "qkv-bias"
    /// RMSNorm of each head's query and key before RoPE (`attn_q_norm`, `attn_k_norm`).
    case queryKeyNorm = "qk-norm"
    /// RMSNorm of the attention and feed-forward outputs before each residual add.
    case postNorms = "post-norms"
    /// The token embedding scaled by √width before the first block.
    case embeddingScale = "embedding-scale"
    /// The gated feed-forward uses GELU (tanh approximation) instead of SiLU.
    case geluGate = "gelu-gate"
    /// Queries scaled by a configured factor instead of 1/√head size.
    case queryScale = "query-scale"
    /// Final logits soft-capped: cap · tanh(logits / cap).
    case logitSoftcap = "logit-softcap"
    /// Local layers attend to the last `window` positions only.
    case slidingWindow = "sliding-window"
    /// Local and global layers rotate with different RoPE bases.
    case localRopeBase = "local-rope-base"
    /// Llama 3.x's frequency-dependent RoPE scaling.
    case llama3Rope = "llama3-rope"
    /// YaRN RoPE scaling.
    case yarnRope = "yarn-rope"
    /// Linear RoPE scaling (positions divided by a factor).
    case linearRope = "linear-rope"
    /// Granite's embedding, residual, attention and logit multipliers.
    case graniteMultipliers = "granite-multipliers"
    /// Attention scores soft-capped (Gemma 2).
    case attentionSoftcap = "attention-softcap"
    /// A RoPE scaling the runtime does not implement (dynamic NTK, LongRoPE, …).
    case otherRopeScaling = "other-rope-scaling"
    /// A feed-forward activation other than SiLU and tanh-GELU.
    case otherActivation = "other-activation"

    /// What Kiln's runtime implements.
    package static let runtimeSupported: Set<ArchitectureFeature> = [
        .qkvBias, .queryKeyNorm, .postNorms, .embeddingScale, .geluGate, .queryScale, .logitSoftcap, .slidingWindow,
        .localRopeBase, .llama3Rope, .yarnRope, .linearRope,
    ]

    /// Orders by declaration, so lists read the same everywhere.
    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One architecture Kiln maps: its names in GGUF (`general.architecture`) and Hugging Face
/// (`model_type`), the block structure, RoPE pairing, and the features every model of it needs.
/// Features a particular config turns on (sliding windows, RoPE scaling, soft-capping) are added
/// to these when the config is read.
package struct ArchitectureDescriptor: Sendable {
    /// llama.cpp's name, used as `general.architecture` and `ModelConfig.architecture`.
    package let name: String
    /// Hugging Face `model_type` values mapped to it.
    package let huggingFaceTypes: [String]
    package let family: ModelConfig.Family
    package let ropeStyle: ModelConfig.RopeStyle
    /// Needed by every model of this architecture.
    package let features: Set<ArchitectureFeature>
    /// The `general.architecture` llama.cpp expects in a GGUF file (its converter writes Mistral
    /// as `llama`).
    package var ggufName: String { name == "mistral" ? "llama" : name }
    /// Hugging Face norm weights hold w where the model multiplies by (1 + w); canonical
    /// (llama.cpp's) tensors hold 1 + w.
    package let normPlusOne: Bool

    /// The one table: every architecture as a small difference over the GPT-2 or Llama decoder.
    package static let all: [ArchitectureDescriptor] = [
        .init(name: "gpt2", huggingFaceTypes: ["gpt2"], family: .gpt2, ropeStyle: .normal, features: [], normPlusOne: false),
        .init(name: "llama", huggingFaceTypes: ["llama"], family: .llama, ropeStyle: .normal, features: [], normPlusOne: false),
        .init(name: "mistral", huggingFaceTypes: ["mistral"], family: .llama, ropeStyle: .normal, features: [], normPlusOne: false),
        .init(name: "qwen2", huggingFaceTypes: ["qwen2"], family: .llama, ropeStyle: .neox, features: [], normPlusOne: false),
        .init(name: "qwen3", huggingFaceTypes: ["qwen3"], family: .llama, ropeStyle: .neox, features: [.queryKeyNorm], normPlusOne: false),
        .init(name: "gemma3", huggingFaceTypes: ["gemma3_text"], family: .llama, ropeStyle: .neox,
              features: [.queryKeyNorm, .postNorms, .embeddingScale, .geluGate, .queryScale, .localRopeBase], normPlusOne: true),
        .init(name: "granite", huggingFaceTypes: ["granite"], family: .llama, ropeStyle: .normal, features: [.graniteMultipliers],
              normPlusOne: false),
    ]

    package static func named(_ name: String) -> ArchitectureDescriptor? { all.first { $0.name == name } }

    /// The GGUF architecture name for `ModelConfig.architecture`.
    package static func ggufName(_ architecture: String) -> String { named(architecture)?.ggufName ?? architecture }

    package static func huggingFace(_ modelType: String) -> ArchitectureDescriptor? {
        all.first { $0.huggingFaceTypes.contains(modelType) }
    }

    /// The architectures whose every feature the runtime implements, for error messages.
    package static var runnableNames: [String] {
        all.filter { $0.features.isSubset(of: ArchitectureFeature.runtimeSupported) }.map(\.name)
    }

    /// Throws naming the features of `needed` the runtime lacks.
    package static func checkRunnable(_ architecture: String, _ needed: Set<ArchitectureFeature>) throws {
        let missing = needed.subtracting(ArchitectureFeature.runtimeSupported).sorted()
        guard missing.isEmpty else {
            throw KilnError(.unsupported, "architecture '\(architecture)' needs \(missing.map(\.rawValue).joined(separator: ", ")), which Kiln's runtime does not implement (it runs \(runnableNames.joined(separator: ", ")) without them)")
        }
    }
}

extension ModelConfig {
    /// Sets the switches the runtime reads from `descriptor`'s features, and ``features`` to
    /// those plus the ones this config turns on (biases, windows, RoPE scaling, soft-capping).
    package mutating func apply(_ descriptor: ArchitectureDescriptor, extra: Set<ArchitectureFeature> = []) {
        var all = descriptor.features.union(extra)
        queryKeyNorm = all.contains(.queryKeyNorm)
        postNorms = all.contains(.postNorms)
        if all.contains(.embeddingScale) { embeddingScale = Double(Float(Double(embedding).squareRoot())) }
        if all.contains(.geluGate) { gateActivation = .geluTanh }
        if family == .llama && attentionBias { all.insert(.qkvBias) }
        if slidingWindow != nil { all.insert(.slidingWindow) }
        if ropeScale != 1 { all.insert(.linearRope) }
        if finalLogitSoftcap != nil { all.insert(.logitSoftcap) }
        switch ropeScaling {
        case .none: break
        case .llama3, .factors: all.insert(.llama3Rope)
        case .yarn: all.insert(.yarnRope)
        }
        if localRopeBase == nil { all.remove(.localRopeBase) }
        if attentionScale == nil { all.remove(.queryScale) }
        features = all
    }
}
