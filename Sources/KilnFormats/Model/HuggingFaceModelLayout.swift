import Foundation
import KilnCore

/// Hugging Face checkpoints (safetensors, PyTorch `.bin`, sharded sets) with a `config.json`
/// beside them: GPT-2 and Llama-family names mapped to canonical ones, GPT-2's `Conv1D`
/// weights transposed, Llama's q/k rows regrouped into GGUF's order (the same transform
/// llama.cpp's converter applies, so an HF source and its GGUF match tensor for tensor).
struct HuggingFaceModelLayout: ModelLayout {
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        guard let first = reader.paths.first else { return nil }
        let directory = URL(fileURLWithPath: first).deletingLastPathComponent()
        let configPath = directory.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else { return nil }
        let json = try HuggingFaceFiles.readJSON(configPath)
        let modelType = json["model_type"]?.stringValue ?? ""
        let tokenizer = try HuggingFaceFiles.tokenizer(in: directory, config: json)
        var extra: [String: MetadataValue] = [:]
        if !reader.metadata.isEmpty { extra["source.metadata"] = .map(reader.metadata) }
        switch ArchitectureDescriptor.huggingFace(modelType) {
        case let descriptor? where descriptor.family == .gpt2:
            return try gpt2(reader, json, tokenizer, extra)
        case let descriptor?:
            return try llama(reader, json, descriptor, tokenizer, extra)
        default:
            return .init(config: nil, tokenizer: tokenizer, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
                         extraMetadata: extra,
                         warnings: ["model_type '\(modelType)' is not one Kiln maps (it maps \(Self.mappedTypes)); tensors are kept under their source names"])
        }
    }

    static var mappedTypes: String { ArchitectureDescriptor.all.flatMap(\.huggingFaceTypes).joined(separator: ", ") }

    private func int(_ json: JSONValue, _ keys: String...) throws -> Int {
        for key in keys { if let v = json[key]?.intValue { return v } }
        throw KilnError(.malformed, "config.json has no integer \(keys.joined(separator: " or "))")
    }

    // MARK: GPT-2

    private func gpt2(_ reader: any CheckpointReader, _ json: JSONValue, _ tokenizer: TokenizerSpec?,
                      _ extra: [String: MetadataValue]) throws -> CanonicalModel.Recognized {
        let embedding = try int(json, "n_embd", "hidden_size")
        let heads = try int(json, "n_head", "num_attention_heads")
        var tensors: [CanonicalTensor] = []
        var warnings: [String] = []
        for source in reader.sourceTensors {
            var name = source.name
            for prefix in ["transformer.", "model."] where name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
            // The causal-mask buffers are constants, not weights.
            if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") { continue }
            guard let mapped = Self.gpt2Name(name) else {
                warnings.append("kept unmapped tensor '\(source.name)'")
                tensors.append(CanonicalTensor(identity: source))
                continue
            }
            let isConv1D = mapped.transpose && source.shape.count == 2
            tensors.append(CanonicalTensor(
                name: mapped.name, type: source.type, shape: isConv1D ? [source.shape[1], source.shape[0]] : source.shape,
                source: source, transform: isConv1D ? .transpose : .none))
        }
        let tied = try Self.dropTiedOutput(&tensors, reader, declared: json["tie_word_embeddings"]?.boolValue ?? true)
        let config = ModelConfig(
            architecture: "gpt2", family: .gpt2, layers: try int(json, "n_layer", "num_hidden_layers"), embedding: embedding,
            heads: heads, kvHeads: heads, headDim: embedding / max(heads, 1),
            feedForward: json["n_inner"]?.intValue ?? 4 * embedding, vocabulary: try int(json, "vocab_size"),
            context: try int(json, "n_positions", "n_ctx", "max_position_embeddings"),
            normEpsilon: json["layer_norm_epsilon"]?.doubleValue ?? 1e-5, tiedEmbeddings: tied, attentionBias: true)
        var gpt2Config = config
        gpt2Config.ropeDimensions = 0
        return .init(config: gpt2Config, tokenizer: tokenizer, tensors: tensors, extraMetadata: extra, warnings: warnings)
    }

    /// GPT-2 names outside the blocks, and inside block `h.N.` (with whether the weight is a
    /// `Conv1D` stored `[in, out]`). The writer's `--layout hf` inverts these tables.
    static let gpt2Direct = ["wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
                             "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias", "lm_head.weight": "output.weight"]
    static let gpt2Block: [String: (name: String, transpose: Bool)] = [
        "ln_1.weight": ("attn_norm.weight", false), "ln_1.bias": ("attn_norm.bias", false),
        "attn.c_attn.weight": ("attn_qkv.weight", true), "attn.c_attn.bias": ("attn_qkv.bias", false),
        "attn.c_proj.weight": ("attn_output.weight", true), "attn.c_proj.bias": ("attn_output.bias", false),
        "ln_2.weight": ("ffn_norm.weight", false), "ln_2.bias": ("ffn_norm.bias", false),
        "mlp.c_fc.weight": ("ffn_up.weight", true), "mlp.c_fc.bias": ("ffn_up.bias", false),
        "mlp.c_proj.weight": ("ffn_down.weight", true), "mlp.c_proj.bias": ("ffn_down.bias", false),
    ]

    static func gpt2Name(_ name: String) -> (name: String, transpose: Bool)? {
        if let mapped = gpt2Direct[name] { return (mapped, false) }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "h", let layer = Int(parts[1]) else { return nil }
        guard let (suffix, transpose) = gpt2Block[parts[2]] else { return nil }
        return ("blk.\(layer).\(suffix)", transpose)
    }

    // MARK: Llama family

    private func llama(_ reader: any CheckpointReader, _ json: JSONValue, _ descriptor: ArchitectureDescriptor, _ tokenizer: TokenizerSpec?,
                       _ extra: [String: MetadataValue]) throws -> CanonicalModel.Recognized {
        let embedding = try int(json, "hidden_size")
        let heads = try int(json, "num_attention_heads")
        let kvHeads = json["num_key_value_heads"]?.intValue ?? heads
        let ropeStyle = descriptor.ropeStyle
        let block = descriptor.name == "gemma3" ? Self.gemmaBlock : Self.llamaBlock
        var tensors: [CanonicalTensor] = []
        var warnings: [String] = []
        for source in reader.sourceTensors {
            var name = source.name
            if name.hasPrefix("model.") { name.removeFirst("model.".count) }
            if name.hasSuffix("rotary_emb.inv_freq") { continue }  // recomputed from the config
            guard let mapped = Self.llamaName(name, block: block) else {
                warnings.append("kept unmapped tensor '\(source.name)'")
                tensors.append(CanonicalTensor(identity: source))
                continue
            }
            // Only "normal" RoPE needs GGUF's interleaved q/k rows; neox models keep HF's order.
            var transform = TensorTransform.none
            var type = source.type
            if ropeStyle == .normal {
                if mapped.contains(".attn_q.") { transform = .interleaveHeads(heads: heads) }
                if mapped.contains(".attn_k.") { transform = .interleaveHeads(heads: kvHeads) }
            }
            // Gemma multiplies by (1 + w): canonical norms hold 1 + w, as llama.cpp's do.
            if descriptor.normPlusOne && mapped.hasSuffix("norm.weight") {
                guard [.f32, .f16, .bf16].contains(source.type) else {
                    throw KilnError(.unsupported, "norm weight '\(source.name)' is \(source.type.name); expected f32, f16 or bf16")
                }
                transform = .addOne
                type = .f32
            }
            tensors.append(CanonicalTensor(name: mapped, type: type, shape: source.shape, source: source, transform: transform))
        }
        let tied = try Self.dropTiedOutput(&tensors, reader, declared: json["tie_word_embeddings"]?.boolValue ?? (descriptor.name == "gemma3"))
        let headDim = json["head_dim"]?.intValue ?? embedding / max(heads, 1)
        var config = ModelConfig(
            architecture: descriptor.name, family: .llama, layers: try int(json, "num_hidden_layers"), embedding: embedding,
            heads: heads, kvHeads: kvHeads, headDim: headDim,
            feedForward: try int(json, "intermediate_size"), vocabulary: try int(json, "vocab_size"),
            context: try int(json, "max_position_embeddings"), normEpsilon: json["rms_norm_eps"]?.doubleValue ?? 1e-6,
            tiedEmbeddings: tied,
            attentionBias: json["attention_bias"]?.boolValue ?? tensors.contains { $0.name == "blk.0.attn_q.bias" })
        config.ropeStyle = ropeStyle
        var extraFeatures: Set<ArchitectureFeature> = []
        try Self.readRope(json, into: &config, features: &extraFeatures)
        Self.readAttention(json, descriptor, into: &config, features: &extraFeatures)
        config.apply(descriptor, extra: extraFeatures)
        if config.features.contains(.graniteMultipliers) {
            warnings.append("granite's multipliers are not mapped: the model cannot run, and a GGUF written from it lacks them")
        }
        return .init(config: config, tokenizer: tokenizer, tensors: tensors, extraMetadata: extra, warnings: warnings)
    }

    /// RoPE base(s), partial rotation and scaling, from `rope_parameters` (transformers 5; per layer
    /// type for Gemma 3) or `rope_scaling` and `rope_theta` (older configs).
    static func readRope(_ json: JSONValue, into config: inout ModelConfig, features: inout Set<ArchitectureFeature>) throws {
        let parameters = json["rope_parameters"] ?? json["rope_scaling"]
        let global = parameters?["full_attention"] ?? parameters
        config.ropeBase = global?["rope_theta"]?.doubleValue ?? json["rope_theta"]?.doubleValue ?? 10_000
        if let local = parameters?["sliding_attention"] {
            config.localRopeBase = local["rope_theta"]?.doubleValue ?? json["rope_local_base_freq"]?.doubleValue ?? 10_000
            if let type = local["rope_type"]?.stringValue ?? local["type"]?.stringValue, type != "default" {
                features.insert(.otherRopeScaling)
            }
        } else if let local = json["rope_local_base_freq"]?.doubleValue {
            config.localRopeBase = local
        }
        if let fraction = global?["partial_rotary_factor"]?.doubleValue ?? json["partial_rotary_factor"]?.doubleValue {
            config.ropeDimensions = Int(Double(config.headDim) * fraction)
        }
        let type = global?["rope_type"]?.stringValue ?? global?["type"]?.stringValue ?? "default"
        func number(_ key: String) -> Double? { global?[key]?.doubleValue }
        let original = global?["original_max_position_embeddings"]?.intValue ?? json["original_max_position_embeddings"]?.intValue
        switch type {
        case "default":
            break
        case "linear":
            guard let factor = number("factor"), factor > 0 else { throw KilnError(.malformed, "config.json: linear RoPE scaling has no positive factor") }
            config.ropeScale = factor
        case "llama3":
            guard let factor = number("factor"), let low = number("low_freq_factor"), let high = number("high_freq_factor"),
                  let original, factor > 0, high > low else {
                throw KilnError(.malformed, "config.json: llama3 RoPE scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
            }
            config.ropeScaling = .llama3(factor: factor, lowFrequencyFactor: low, highFrequencyFactor: high, originalContext: original)
        case "yarn":
            guard let original else { throw KilnError(.malformed, "config.json: yarn RoPE scaling has no original_max_position_embeddings") }
            let factor = number("factor") ?? Double(config.context) / Double(original)
            var attention = number("attention_factor") ?? ModelConfig.yarnAttentionFactor(factor)
            if number("attention_factor") == nil, let mscale = number("mscale"), let all = number("mscale_all_dim"), mscale != 0, all != 0 {
                attention = ModelConfig.yarnAttentionFactor(factor, mscale: mscale) / ModelConfig.yarnAttentionFactor(factor, mscale: all)
            }
            if global?["truncate"]?.boolValue == false { features.insert(.otherRopeScaling) }
            config.ropeScaling = .yarn(factor: factor, originalContext: original, betaFast: number("beta_fast") ?? 32,
                                       betaSlow: number("beta_slow") ?? 1, attentionFactor: attention)
        default:
            features.insert(.otherRopeScaling)
        }
    }

    /// Sliding windows, query scale, soft-capping and the feed-forward activation.
    static func readAttention(_ json: JSONValue, _ descriptor: ArchitectureDescriptor, into config: inout ModelConfig,
                              features: inout Set<ArchitectureFeature>) {
        let window = json["sliding_window"]?.intValue
        if let types = json["layer_types"]?.arrayValue?.compactMap(\.stringValue), types.count == config.layers,
           types.contains("sliding_attention"), let window {
            config.slidingWindow = window
            config.localLayers = types.map { $0 == "sliding_attention" }
            if config.localLayers.allSatisfy({ $0 }) { config.localLayers = [] }
        } else if descriptor.name == "mistral", let window {
            config.slidingWindow = window  // every layer, as transformers' Mistral applies it
        } else if descriptor.name == "gemma3", let window {
            let pattern = max(json["sliding_window_pattern"]?.intValue ?? 6, 1)
            config.slidingWindow = window
            config.localLayers = (0..<config.layers).map { ($0 + 1) % pattern != 0 }
        }
        if let scalar = json["query_pre_attn_scalar"]?.doubleValue, scalar > 0 { config.attentionScale = 1 / scalar.squareRoot() }
        config.finalLogitSoftcap = json["final_logit_softcapping"]?.doubleValue
        if json["attn_logit_softcapping"]?.doubleValue != nil { features.insert(.attentionSoftcap) }
        let activation = json["hidden_activation"]?.stringValue ?? json["hidden_act"]?.stringValue
        let expected = descriptor.features.contains(.geluGate) ? ["gelu_pytorch_tanh", "gelu_new", "gelu_tanh"] : ["silu", "swish"]
        if let activation, !expected.contains(activation) { features.insert(.otherActivation) }
    }

    /// Llama names (after the `model.` prefix) outside the layers, and inside `layers.N.`.
    static let llamaDirect = ["embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight",
                              "lm_head.weight": "output.weight"]
    static let llamaBlock = [
        "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
        "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
        "self_attn.v_proj.bias": "attn_v.bias", "self_attn.o_proj.bias": "attn_output.bias",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
        "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    ]

    /// Gemma 3's block: four norms around attention and feed-forward (its `post_attention_layernorm`
    /// is a post-norm, where Llama's is the feed-forward's pre-norm).
    static let gemmaBlock = llamaBlock.merging([
        "post_attention_layernorm.weight": "post_attention_norm.weight", "pre_feedforward_layernorm.weight": "ffn_norm.weight",
        "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    ]) { $1 }

    static func llamaName(_ name: String, block: [String: String] = llamaBlock) -> String? {
        if let mapped = llamaDirect[name] { return mapped }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "layers", let layer = Int(parts[1]) else { return nil }
        return block[parts[2]].map { "blk.\(layer).\($0)" }
    }

    /// Drops an `output.weight` that merely repeats the embedding (tied models often save
    /// both); returns whether the head is tied.
    static func dropTiedOutput(_ tensors: inout [CanonicalTensor], _ reader: any CheckpointReader, declared: Bool) throws -> Bool {
        guard let outputIndex = tensors.firstIndex(where: { $0.name == "output.weight" }) else { return true }
        guard declared, let embedding = tensors.first(where: { $0.name == "token_embd.weight" }),
              embedding.shape == tensors[outputIndex].shape, embedding.type == tensors[outputIndex].type
        else { return false }
        let a = try reader.data(embedding.source), b = try reader.data(tensors[outputIndex].source)
        let same = withExtendedLifetime((a.owner, b.owner)) { a.bytes.elementsEqual(b.bytes) }
        if same { tensors.remove(at: outputIndex) }
        return same
    }
}
