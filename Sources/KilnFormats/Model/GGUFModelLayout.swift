import KilnCore

/// GGUF files from llama.cpp's converters: tensor names are already canonical (Kiln adopted
/// them) and quantised blocks are kept as they are; the config comes from `<arch>.*` keys.
struct GGUFModelLayout: ModelLayout {
    /// Where the GGUF value types of `source.metadata` are kept (see `GGUFFile.metadataTypes`).
    static let typesKey = "source.gguf_types"


    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        guard reader.formatName == "gguf" else { return nil }
        let m = reader.metadata
        let tensors = reader.sourceTensors.map { CanonicalTensor(identity: $0) }
        guard let arch = m["general.architecture"]?.stringValue else {
            return .init(config: nil, tokenizer: try tokenizer(reader), tensors: tensors,
                         extraMetadata: carried(reader), warnings: ["GGUF file has no general.architecture"])
        }
        guard let descriptor = ArchitectureDescriptor.named(arch) else {
            return .init(config: nil, tokenizer: try tokenizer(reader), tensors: tensors, extraMetadata: carried(reader),
                         warnings: ["architecture '\(arch)' is not one Kiln maps (it maps \(ArchitectureDescriptor.all.map(\.name).joined(separator: ", "))); tensors are kept as they are"])
        }
        do {
            let config = try config(arch, descriptor, m, tensors, reader)
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

    private func config(_ arch: String, _ descriptor: ArchitectureDescriptor, _ m: [String: MetadataValue],
                        _ tensors: [CanonicalTensor], _ reader: any CheckpointReader) throws -> ModelConfig {
        let family = descriptor.family
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
        var extra: Set<ArchitectureFeature> = []
        if family == .llama {
            config.ropeBase = double("rope.freq_base") ?? 10_000
            config.ropeDimensions = m["\(arch).rope.dimension_count"]?.intValue ?? headDim
            config.ropeStyle = descriptor.ropeStyle
            switch m["\(arch).rope.scaling.type"]?.stringValue {
            case nil, "none":
                break
            case "linear":
                if let factor = double("rope.scaling.factor"), factor > 0 { config.ropeScale = factor }
            case "yarn":
                let factor = double("rope.scaling.factor") ?? 1
                config.ropeScaling = .yarn(
                    factor: factor, originalContext: m["\(arch).rope.scaling.original_context_length"]?.intValue ?? config.context,
                    betaFast: double("rope.scaling.yarn_beta_fast") ?? 32, betaSlow: double("rope.scaling.yarn_beta_slow") ?? 1,
                    attentionFactor: double("rope.scaling.yarn_attn_factor") ?? ModelConfig.yarnAttentionFactor(factor))
            default:
                extra.insert(.otherRopeScaling)
            }
            // llama.cpp's converter writes Llama 3.x scaling as per-pair divisors.
            if let freqs = tensors.first(where: { $0.name == "rope_freqs.weight" }) {
                let data = try reader.data(freqs.source)
                let values = try withExtendedLifetime(data.owner) { try freqs.type.dequantize(data.bytes, elementCount: freqs.elementCount) }
                config.ropeScaling = .factors(values.map(Double.init))
            }
            try readWindows(arch, descriptor, m, into: &config)
            config.attentionScale = double("attention.scale")
            if descriptor.features.contains(.queryScale) && config.attentionScale == nil {
                // llama.cpp's rule for Gemma 3 (no key holds query_pre_attn_scalar): 1/√head size,
                // but 1/√(width/heads) for the 62-layer 27B.
                let scalar = config.layers == 62 ? Double(embedding / heads) : Double(headDim)
                config.attentionScale = 1 / scalar.squareRoot()
            }
            config.finalLogitSoftcap = double("final_logit_softcapping")
            if double("attn_logit_softcapping") != nil { extra.insert(.attentionSoftcap) }
            if double("embedding_scale") != nil || double("residual_scale") != nil || double("logit_scale") != nil {
                extra.insert(.graniteMultipliers)
            }
        } else {
            config.ropeDimensions = 0
        }
        config.apply(descriptor, extra: extra)
        try config.validate()
        return config
    }

    /// Sliding-window attention: `attention.sliding_window`, with Gemma 3's local layers from
    /// `attention.sliding_window_pattern` (a period, every period-th layer global; or one flag
    /// per layer; 6 when absent, as llama.cpp assumes) and their RoPE base `rope.freq_base_swa`.
    private func readWindows(_ arch: String, _ descriptor: ArchitectureDescriptor, _ m: [String: MetadataValue],
                             into config: inout ModelConfig) throws {
        guard let window = m["\(arch).attention.sliding_window"]?.intValue, window > 0 else { return }
        config.slidingWindow = window
        let pattern = m["\(arch).attention.sliding_window_pattern"]
        if let flags = pattern?.arrayValue {
            let values = flags.compactMap(\.boolValue)
            guard values.count == config.layers else {
                throw KilnError(.malformed, "GGUF key \(arch).attention.sliding_window_pattern has \(flags.count) entries for \(config.layers) layers")
            }
            config.localLayers = values
        } else if descriptor.name == "gemma3" || pattern != nil {
            let period = max(pattern?.intValue ?? 6, 1)
            config.localLayers = (0..<config.layers).map { $0 % period < period - 1 }
        }
        if config.localLayers.allSatisfy({ $0 }) { config.localLayers = [] }
        if descriptor.features.contains(.localRopeBase) {
            config.localRopeBase = m["\(arch).rope.freq_base_swa"]?.doubleValue ?? 10_000
        }
    }

    /// Keys worth keeping verbatim: everything except what config and tokenizer now hold
    /// (tokenizer keys the spec does not model, such as scores or add_space_prefix, stay).
    private func carried(_ reader: any CheckpointReader) -> [String: MetadataValue] {
        let m = reader.metadata
        var carried: [String: MetadataValue] = [:]
        if let name = m["general.name"] { carried["general.name"] = name }
        let hasTokenizer = m["tokenizer.ggml.tokens"]?.arrayValue != nil
        // The spec models add_space_prefix for SentencePiece vocabularies only (ggufMetadata
        // writes it for them); a byte-level vocabulary's own value is carried as it was.
        let byteLevel = (m["tokenizer.ggml.model"]?.stringValue ?? "gpt2") == "gpt2"
        let rest = m.filter { key, _ in
            let modelled = TokenizerSpec.ggufKeys.contains(key) && !(byteLevel && key == "tokenizer.ggml.add_space_prefix")
            return !(hasTokenizer && modelled) && key != "general.alignment"
        }
        if !rest.isEmpty { carried["source.metadata"] = .map(rest) }
        if let file = reader as? GGUFFile {
            let types = file.metadataTypes.filter { rest[$0.key] != nil }
            if !types.isEmpty { carried[Self.typesKey] = .map(types.mapValues(MetadataValue.string)) }
        }
        return carried
    }
}
