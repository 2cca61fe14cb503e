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
        switch modelType {
        case "gpt2":
            return try gpt2(reader, json, tokenizer, extra)
        case "llama", "mistral", "qwen2", "qwen3", "granite":
            return try llama(reader, json, modelType, tokenizer, extra)
        default:
            return .init(config: nil, tokenizer: tokenizer, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
                         extraMetadata: extra,
                         warnings: ["model_type '\(modelType)' is not one Kiln maps; tensors are kept under their source names"])
        }
    }

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

    static func gpt2Name(_ name: String) -> (name: String, transpose: Bool)? {
        let direct = ["wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
                      "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias", "lm_head.weight": "output.weight"]
        if let mapped = direct[name] { return (mapped, false) }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "h", let layer = Int(parts[1]) else { return nil }
        let table: [String: (String, Bool)] = [
            "ln_1.weight": ("attn_norm.weight", false), "ln_1.bias": ("attn_norm.bias", false),
            "attn.c_attn.weight": ("attn_qkv.weight", true), "attn.c_attn.bias": ("attn_qkv.bias", false),
            "attn.c_proj.weight": ("attn_output.weight", true), "attn.c_proj.bias": ("attn_output.bias", false),
            "ln_2.weight": ("ffn_norm.weight", false), "ln_2.bias": ("ffn_norm.bias", false),
            "mlp.c_fc.weight": ("ffn_up.weight", true), "mlp.c_fc.bias": ("ffn_up.bias", false),
            "mlp.c_proj.weight": ("ffn_down.weight", true), "mlp.c_proj.bias": ("ffn_down.bias", false),
        ]
        guard let (suffix, transpose) = table[parts[2]] else { return nil }
        return ("blk.\(layer).\(suffix)", transpose)
    }

    // MARK: Llama family

    private func llama(_ reader: any CheckpointReader, _ json: JSONValue, _ modelType: String, _ tokenizer: TokenizerSpec?,
                       _ extra: [String: MetadataValue]) throws -> CanonicalModel.Recognized {
        let embedding = try int(json, "hidden_size")
        let heads = try int(json, "num_attention_heads")
        let kvHeads = json["num_key_value_heads"]?.intValue ?? heads
        let ropeStyle = GGUFModelLayout.llamaFamily[modelType] ?? .normal
        var tensors: [CanonicalTensor] = []
        var warnings: [String] = []
        for source in reader.sourceTensors {
            var name = source.name
            if name.hasPrefix("model.") { name.removeFirst("model.".count) }
            if name.hasSuffix("rotary_emb.inv_freq") { continue }  // recomputed from the config
            guard let mapped = Self.llamaName(name) else {
                warnings.append("kept unmapped tensor '\(source.name)'")
                tensors.append(CanonicalTensor(identity: source))
                continue
            }
            // Only "normal" RoPE needs GGUF's interleaved q/k rows; neox models keep HF's order.
            var transform = TensorTransform.none
            if ropeStyle == .normal {
                if mapped.contains(".attn_q.") { transform = .interleaveHeads(heads: heads) }
                if mapped.contains(".attn_k.") { transform = .interleaveHeads(heads: kvHeads) }
            }
            tensors.append(CanonicalTensor(name: mapped, type: source.type, shape: source.shape, source: source, transform: transform))
        }
        let tied = try Self.dropTiedOutput(&tensors, reader, declared: json["tie_word_embeddings"]?.boolValue ?? false)
        var config = ModelConfig(
            architecture: modelType, family: .llama, layers: try int(json, "num_hidden_layers"), embedding: embedding,
            heads: heads, kvHeads: kvHeads, headDim: json["head_dim"]?.intValue ?? embedding / max(heads, 1),
            feedForward: try int(json, "intermediate_size"), vocabulary: try int(json, "vocab_size"),
            context: try int(json, "max_position_embeddings"), normEpsilon: json["rms_norm_eps"]?.doubleValue ?? 1e-6,
            tiedEmbeddings: tied,
            attentionBias: json["attention_bias"]?.boolValue ?? tensors.contains { $0.name == "blk.0.attn_q.bias" })
        config.ropeStyle = ropeStyle
        let rope = json["rope_parameters"] ?? json["rope_scaling"]
        config.ropeBase = json["rope_theta"]?.doubleValue ?? rope?["rope_theta"]?.doubleValue ?? 10_000
        if let type = rope?["rope_type"]?.stringValue ?? rope?["type"]?.stringValue, type == "linear",
           let factor = rope?["factor"]?.doubleValue, factor > 0 {
            config.ropeScale = factor
        } else if let type = rope?["rope_type"]?.stringValue ?? rope?["type"]?.stringValue, type != "default" {
            warnings.append("RoPE scaling '\(type)' is not supported; positions are used unscaled")
        }
        return .init(config: config, tokenizer: tokenizer, tensors: tensors, extraMetadata: extra, warnings: warnings)
    }

    static func llamaName(_ name: String) -> String? {
        let direct = ["embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        if let mapped = direct[name] { return mapped }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "layers", let layer = Int(parts[1]) else { return nil }
        let table = [
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
            "self_attn.v_proj.bias": "attn_v.bias", "self_attn.o_proj.bias": "attn_output.bias",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
            "mlp.down_proj.weight": "ffn_down.weight",
        ]
        return table[parts[2]].map { "blk.\(layer).\($0)" }
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
