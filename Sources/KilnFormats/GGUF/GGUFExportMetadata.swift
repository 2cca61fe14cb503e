import KilnCore

/// The GGUF key/value pairs for a model: `general.*`, the architecture's hyper-parameters from
/// `ModelConfig` under llama.cpp's key names, `tokenizer.ggml.*` from `TokenizerSpec`, and,
/// when the model came from a GGUF file, the source's other keys carried back verbatim.
enum GGUFExportMetadata {
    struct Entry {
        let key: String
        let type: GGUFType
        let value: MetadataValue
    }

    /// Types llama.cpp requires for the keys it reads that are not set from the config.
    static let knownTypes: [String: GGUFType] = [
        "general.alignment": .uint32, "general.file_type": .uint32, "general.quantization_version": .uint32,
        "tokenizer.ggml.tokens": .array(.string), "tokenizer.ggml.merges": .array(.string),
        "tokenizer.ggml.token_type": .array(.int32), "tokenizer.ggml.scores": .array(.float32),
        "tokenizer.ggml.bos_token_id": .uint32, "tokenizer.ggml.eos_token_id": .uint32,
        "tokenizer.ggml.eot_token_id": .uint32, "tokenizer.ggml.eom_token_id": .uint32,
        "tokenizer.ggml.padding_token_id": .uint32, "tokenizer.ggml.unknown_token_id": .uint32,
        "tokenizer.ggml.seperator_token_id": .uint32, "tokenizer.ggml.mask_token_id": .uint32,
        "tokenizer.ggml.add_bos_token": .bool, "tokenizer.ggml.add_eos_token": .bool,
        "tokenizer.ggml.add_space_prefix": .bool, "tokenizer.ggml.model": .string, "tokenizer.ggml.pre": .string,
        "tokenizer.chat_template": .string,
    ]

    /// llama.cpp's `llama_ftype` for the type holding most of the weight-matrix bytes
    /// (the `_M` mix for K-quants, as a K-quant file usually is).
    static let fileTypes: [ElementType: Int] = [
        .f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9,
        .q2_k: 10, .q3_k: 12, .q4_k: 15, .q5_k: 17, .q6_k: 18, .bf16: 32,
    ]

    static func entries(_ plan: ExportPlan) throws -> (entries: [Entry], warnings: [String]) {
        var values: [String: (GGUFType?, MetadataValue)] = [:]
        var warnings: [String] = []
        let fromGGUF = plan.originalFormat == "gguf"
        if fromGGUF, let source = plan.model.extraMetadata["source.metadata"]?.mapValue {
            // The source's own types where recorded, so widths (UINT8, INT16, …) come back as they were.
            let sourceTypes = plan.model.extraMetadata[GGUFModelLayout.typesKey]?.mapValue ?? [:]
            for (key, value) in source where key != "general.alignment" {
                let recorded = sourceTypes[key]?.stringValue.flatMap(GGUFMetadata.type(named:))
                values[key] = (knownTypes[key] ?? recorded, value)
            }
        }
        if let name = plan.model.extraMetadata["general.name"] { values["general.name"] = (.string, name) }

        let quantized = plan.tensors.contains { $0.type.isQuantized }
        if quantized {
            values["general.quantization_version"] = (.uint32, .uint(2))
        } else {
            values["general.quantization_version"] = nil
        }
        // A GGUF source's own file type is kept when it still describes the tensors (it may name a
        // mix, such as Q4_K_M, that the types alone do not tell apart); otherwise it is recomputed.
        if !sourceFileTypeHolds(values["general.file_type"]?.1, plan) {
            values["general.file_type"] = fileType(plan).map { (GGUFType?.some(.uint32), MetadataValue.uint(UInt64($0))) }
        }

        if let config = plan.model.config {
            values["general.architecture"] = (.string, .string(ArchitectureDescriptor.ggufName(config.architecture)))
            for (key, type, value) in hyperParameters(config) { values[key] = (type, value) }
            if case .llama3 = config.ropeScaling {
                // llama.cpp (and Kiln's GGUF reader) take it from a rope_freqs.weight tensor, which
                // Kiln does not make yet: without one both would run the file unscaled.
                throw KilnError(.unsupported, "Llama 3 RoPE scaling cannot be written to GGUF yet (it needs a rope_freqs.weight tensor); convert to .kiln or safetensors")
            }
            if let window = config.slidingWindow, ArchitectureDescriptor.ggufName(config.architecture) == "llama" {
                warnings.append("llama.cpp's llama architecture has no sliding window: it will attend past \(window) positions where Kiln does not")
            }
            if config.architecture == "gemma3", let scale = config.attentionScale,
               abs(scale * Double(config.headDim).squareRoot() - 1) > 1e-12 {
                warnings.append("the query scale (query_pre_attn_scalar) is not 1/√head size: llama.cpp ignores \(config.architecture).attention.scale and will differ")
            }
        } else if values["general.architecture"] == nil {
            values["general.architecture"] = (.string, .string(plan.model.extraMetadata["general.architecture"]?.stringValue ?? "unknown"))
            warnings.append("unknown architecture: the GGUF file has no hyper-parameters and llama.cpp will not load it")
        }
        if let tokenizer = plan.model.tokenizer {
            // Keys the spec does not hold (scores, add_space_prefix, …) stay as carried.
            for (key, value) in tokenizer.ggufMetadata { values[key] = (knownTypes[key], value) }
            // false is llama.cpp's default, and most converters write the key only when true.
            if !tokenizer.addEOS { values["tokenizer.ggml.add_eos_token"] = nil }
        }

        var entries: [Entry] = []
        for key in values.keys.sorted(by: order) {
            let (hint, value) = values[key]!
            guard let type = hint ?? GGUFType.infer(value) else {
                warnings.append("metadata key '\(key)' (\(value.typeName)) has no GGUF type and is left out")
                continue
            }
            entries.append(Entry(key: key, type: type, value: value))
        }
        return (entries, warnings)
    }

    /// `general.*` first (architecture leading), then hyper-parameters, then tokenizer keys.
    private static func order(_ a: String, _ b: String) -> Bool {
        func rank(_ key: String) -> Int {
            if key == "general.architecture" { return 0 }
            if key.hasPrefix("general.") { return 1 }
            if key.hasPrefix("tokenizer.") { return 3 }
            return 2
        }
        return (rank(a), a) < (rank(b), b)
    }

    /// The weight type each `llama_ftype` is named after (the `_S`/`_M`/`_L` mixes share one).
    static let mainTypes: [Int: ElementType] = {
        var types = Dictionary(uniqueKeysWithValues: fileTypes.map { ($0.value, $0.key) })
        types[11] = .q3_k; types[13] = .q3_k; types[14] = .q4_k; types[16] = .q5_k
        return types
    }()

    /// Whether a carried `general.file_type` still fits: no tensor changed type on the way, and
    /// its main type is among the matrices. A `.kiln` quantised from a GGUF carries the source's
    /// keys while its tensors hold new types, which the first check alone cannot see.
    static func sourceFileTypeHolds(_ value: MetadataValue?, _ plan: ExportPlan) -> Bool {
        guard let raw = value?.intValue, let main = mainTypes[raw], !plan.convertsTypes else { return false }
        return plan.tensors.contains { $0.shape.count >= 2 && BlockLayout.rowMajor($0.type) == main }
    }

    static func fileType(_ plan: ExportPlan) -> Int? {
        var bytes: [ElementType: Int] = [:]
        for tensor in plan.tensors where tensor.shape.count >= 2 { bytes[tensor.type, default: 0] += tensor.byteCount }
        guard let dominant = bytes.max(by: { ($0.value, $0.key.id) < ($1.value, $1.key.id) })?.key else { return nil }
        return fileTypes[dominant]
    }

    /// llama.cpp's `<arch>.*` keys with the types its loader checks.
    static func hyperParameters(_ c: ModelConfig) -> [(String, GGUFType, MetadataValue)] {
        let arch = ArchitectureDescriptor.ggufName(c.architecture)
        func u32(_ key: String, _ v: Int) -> (String, GGUFType, MetadataValue) { ("\(arch).\(key)", .uint32, .uint(UInt64(v))) }
        func f32(_ key: String, _ v: Double) -> (String, GGUFType, MetadataValue) { ("\(arch).\(key)", .float32, .float(v)) }
        var keys = [
            u32("context_length", c.context), u32("embedding_length", c.embedding), u32("block_count", c.layers),
            u32("feed_forward_length", c.feedForward), u32("attention.head_count", c.heads), u32("vocab_size", c.vocabulary),
        ]
        switch c.family {
        case .gpt2:
            keys.append(f32("attention.layer_norm_epsilon", c.normEpsilon))
        case .llama:
            keys += [
                u32("attention.head_count_kv", c.kvHeads), u32("rope.dimension_count", c.ropeDimensions),
                f32("rope.freq_base", c.ropeBase), f32("attention.layer_norm_rms_epsilon", c.normEpsilon),
            ]
            if c.headDim * c.heads != c.embedding {
                keys += [u32("attention.key_length", c.headDim), u32("attention.value_length", c.headDim)]
            }
            if c.ropeScale != 1 {
                keys += [("\(arch).rope.scaling.type", .string, .string("linear")), f32("rope.scaling.factor", c.ropeScale)]
            }
            if case .yarn(let factor, let original, let fast, let slow, _) = c.ropeScaling {
                keys += [("\(arch).rope.scaling.type", .string, .string("yarn")), f32("rope.scaling.factor", factor),
                         u32("rope.scaling.original_context_length", original), f32("rope.scaling.yarn_beta_fast", fast),
                         f32("rope.scaling.yarn_beta_slow", slow)]
            }
            if let window = c.slidingWindow {
                keys.append(u32("attention.sliding_window", window))
                // One flag per layer (llama.cpp reads an array as well as a period).
                let flags = (0..<c.layers).map { MetadataValue.bool(c.isLocal(layer: $0)) }
                keys.append(("\(arch).attention.sliding_window_pattern", .array(.bool), .array(flags)))
            }
            if let base = c.localRopeBase { keys.append(f32("rope.freq_base_swa", base)) }
            if let cap = c.finalLogitSoftcap { keys.append(f32("final_logit_softcapping", cap)) }
            // llama.cpp derives Gemma 3's query scale from the head size; Kiln reads this key first.
            if let scale = c.attentionScale, abs(scale * Double(c.headDim).squareRoot() - 1) > 1e-12 {
                keys.append(f32("attention.scale", scale))
            }
        }
        return keys
    }
}
