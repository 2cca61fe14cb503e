import KilnCore

/// GGUF files from llama.cpp's converters: tensor names are already canonical (Kiln adopted
/// them) and quantised blocks are kept as they are; the config comes from `<arch>.*` keys.
struct GGUFModelLayout: ModelLayout {
    /// Where the GGUF value types of `source.metadata` are kept (see `GGUFFile.metadataTypes`).
    static let typesKey = "source.gguf_types"

    /// Architectures run as the Llama family, with their RoPE pairing (llama.cpp's table).
    static let llamaFamily: [String: ModelConfig.RopeStyle] = [
        "llama": .normal, "mistral": .normal, "granite": .normal, "qwen2": .neox, "qwen3": .neox,
    ]

    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        guard reader.formatName == "gguf" else { return nil }
        let m = reader.metadata
        let tensors = reader.sourceTensors.map { CanonicalTensor(identity: $0) }
        guard let arch = m["general.architecture"]?.stringValue else {
            return .init(config: nil, tokenizer: try tokenizer(reader), tensors: tensors,
                         extraMetadata: carried(reader), warnings: ["GGUF file has no general.architecture"])
        }
        let family: ModelConfig.Family
        if arch == "gpt2" { family = .gpt2 } else if Self.llamaFamily[arch] != nil { family = .llama } else {
            return .init(config: nil, tokenizer: try tokenizer(reader), tensors: tensors, extraMetadata: carried(reader),
                         warnings: ["architecture '\(arch)' is not one Kiln runs; tensors are kept as they are"])
        }
        do {
            let config = try config(arch, family, m, tensors)
            return .init(config: config, tokenizer: try tokenizer(reader), tensors: tensors, extraMetadata: carried(reader))
        } catch let error as KilnError {
            // Incomplete hyper-parameters: still convertible, just not runnable.
            return .init(config: nil, tokenizer: try tokenizer(reader), tensors: tensors, extraMetadata: carried(reader),
                         warnings: ["\(error.message); tensors are kept as they are"])
        }
    }

    /// The file's tokenizer; an error about one of its keys gets that key's file offset.
    private func tokenizer(_ reader: any CheckpointReader) throws -> TokenizerSpec? {
        do {
            return try TokenizerSpec(gguf: reader.metadata)
        } catch var error as KilnError {
            if error.offset == nil, let gguf = reader as? GGUFFile, let location = error.location,
               let key = gguf.metadataOffsets.keys.first(where: { location == "metadata key '\($0)'" }) {
                error.offset = gguf.metadataOffsets[key]
            }
            throw error
        }
    }

    private func config(_ arch: String, _ family: ModelConfig.Family, _ m: [String: MetadataValue],
                        _ tensors: [CanonicalTensor]) throws -> ModelConfig {
        let names = Set(tensors.map(\.name))
        func int(_ key: String) throws -> Int {
            guard let v = m["\(arch).\(key)"]?.intValue else {
                throw KilnError(.malformed, "GGUF key \(arch).\(key) is missing or not an integer")
            }
            return v
        }
        func double(_ key: String) -> Double? { m["\(arch).\(key)"]?.doubleValue }
        let embedding = try int("embedding_length")
        let heads = try int("attention.head_count")
        let headDim = m["\(arch).attention.key_length"]?.intValue ?? embedding / max(heads, 1)
        let vocabulary = m["\(arch).vocab_size"]?.intValue ?? m["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? tensors.first { $0.name == "token_embd.weight" }?.shape.first ?? 0
        var config = ModelConfig(
            architecture: arch, family: family, layers: try int("block_count"), embedding: embedding, heads: heads,
            kvHeads: m["\(arch).attention.head_count_kv"]?.intValue ?? heads, headDim: headDim,
            feedForward: m["\(arch).feed_forward_length"]?.intValue ?? 4 * embedding, vocabulary: vocabulary,
            context: try int("context_length"),
            normEpsilon: double(family == .gpt2 ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon") ?? 1e-5,
            tiedEmbeddings: !names.contains("output.weight"),
            attentionBias: family == .gpt2 || names.contains("blk.0.attn_q.bias"))
        if family == .llama {
            config.ropeBase = double("rope.freq_base") ?? 10_000
            config.ropeDimensions = m["\(arch).rope.dimension_count"]?.intValue ?? headDim
            config.ropeStyle = Self.llamaFamily[arch] ?? .normal
            if m["\(arch).rope.scaling.type"]?.stringValue == "linear", let factor = double("rope.scaling.factor"), factor > 0 {
                config.ropeScale = factor
            }
        } else {
            config.ropeDimensions = 0
        }
        try config.validate()
        return config
    }

    /// Keys worth keeping verbatim: everything except what config and tokenizer now hold
    /// (tokenizer keys the spec does not model, such as scores or add_space_prefix, stay).
    private func carried(_ reader: any CheckpointReader) -> [String: MetadataValue] {
        let m = reader.metadata
        var carried: [String: MetadataValue] = [:]
        if let name = m["general.name"] { carried["general.name"] = name }
        let hasTokenizer = m["tokenizer.ggml.tokens"]?.arrayValue != nil
        let rest = m.filter { key, _ in
            !(hasTokenizer && TokenizerSpec.ggufKeys.contains(key)) && key != "general.alignment"
        }
        if !rest.isEmpty { carried["source.metadata"] = .map(rest) }
        if let file = reader as? GGUFFile {
            let types = file.metadataTypes.filter { rest[$0.key] != nil }
            if !types.isEmpty { carried[Self.typesKey] = .map(types.mapValues(MetadataValue.string)) }
        }
        return carried
    }
}
