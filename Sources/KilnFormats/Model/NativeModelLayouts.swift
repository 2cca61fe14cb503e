import KilnCore

/// Checkpoints written by the small reference trainers, which carry their hyper-parameters
/// inside the file: nanoGPT's `ckpt.pt` (`model_args`), llama2.c's `.bin` and llm.c's GPT-2.
struct NanoGPTModelLayout: ModelLayout {
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        guard let args = reader.metadata["model_args"]?.mapValue else { return nil }
        func int(_ key: String) throws -> Int {
            guard let v = args[key]?.intValue else { throw KilnError(.malformed, "nanoGPT model_args.\(key) is missing") }
            return v
        }
        let embedding = try int("n_embd"), heads = try int("n_head")
        var tensors: [CanonicalTensor] = []
        var warnings: [String] = []
        for source in reader.sourceTensors {
            var name = source.name
            if name.hasPrefix("transformer.") { name.removeFirst("transformer.".count) }
            if name.hasSuffix(".attn.bias") && source.shape.count == 4 { continue }  // the causal mask buffer
            // nanoGPT uses nn.Linear, so weights are already [out, in]: names map, nothing transposes.
            guard let mapped = HuggingFaceModelLayout.gpt2Name(name)?.name else {
                warnings.append("kept unmapped tensor '\(source.name)'")
                tensors.append(CanonicalTensor(identity: source))
                continue
            }
            tensors.append(CanonicalTensor(identity: source, name: mapped))
        }
        let tied = try HuggingFaceModelLayout.dropTiedOutput(&tensors, reader, declared: true)
        var config = ModelConfig(
            architecture: "gpt2", family: .gpt2, layers: try int("n_layer"), embedding: embedding, heads: heads, kvHeads: heads,
            headDim: embedding / max(heads, 1), feedForward: 4 * embedding, vocabulary: try int("vocab_size"),
            context: try int("block_size"), normEpsilon: 1e-5, tiedEmbeddings: tied, attentionBias: args["bias"]?.boolValue ?? true)
        config.ropeDimensions = 0
        var extra = reader.metadata
        extra.removeValue(forKey: "model_args")
        return .init(config: config, tokenizer: nil, tensors: tensors,
                     extraMetadata: ["source.metadata": .map(reader.metadata)], warnings: warnings)
    }
}

/// llama2.c: Meta's original layout (q/k rows already in RoPE's adjacent-pair order, as GGUF),
/// with the `tokenizer.bin` beside the checkpoint as its tokenizer.
struct Llama2cModelLayout: ModelLayout {
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        let m = reader.metadata
        guard let dim = m["llama2c.dim"]?.intValue, let version = m["llama2c.version"]?.intValue else { return nil }
        guard version != 2 else {
            return .init(config: nil, tokenizer: nil, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
                         extraMetadata: ["source.metadata": .map(m)],
                         warnings: ["llama2.c version 2 (grouped int8) is kept tensor for tensor; convert the fp32 export to run it"])
        }
        func int(_ key: String) throws -> Int {
            guard let v = m["llama2c.\(key)"]?.intValue else { throw KilnError(.malformed, "llama2c.\(key) is missing") }
            return v
        }
        let table = ["token_embedding_table": "token_embd.weight", "rms_final_weight": "output_norm.weight", "wcls": "output.weight",
                     "rms_att_weight": "attn_norm.weight", "rms_ffn_weight": "ffn_norm.weight", "wq": "attn_q.weight",
                     "wk": "attn_k.weight", "wv": "attn_v.weight", "wo": "attn_output.weight", "w1": "ffn_gate.weight",
                     "w2": "ffn_down.weight", "w3": "ffn_up.weight"]
        var tensors: [CanonicalTensor] = []
        for source in reader.sourceTensors {
            let parts = source.name.split(separator: ".").map(String.init)
            if parts.count == 3, parts[0] == "layers", let suffix = table[parts[2]] {
                tensors.append(CanonicalTensor(identity: source, name: "blk.\(parts[1]).\(suffix)"))
            } else if let mapped = table[source.name] {
                tensors.append(CanonicalTensor(identity: source, name: mapped))
            }  // RoPE tables (v0) are recomputed from the config.
        }
        let heads = try int("n_heads")
        var config = ModelConfig(
            architecture: "llama", family: .llama, layers: try int("n_layers"), embedding: dim, heads: heads,
            kvHeads: try int("n_kv_heads"), headDim: dim / max(heads, 1), feedForward: try int("hidden_dim"),
            vocabulary: try int("vocab_size"), context: try int("seq_len"), normEpsilon: 1e-5,
            tiedEmbeddings: !tensors.contains { $0.name == "output.weight" }, attentionBias: false)
        config.ropeStyle = .normal
        var warnings: [String] = []
        let tokenizer = reader.paths.first.flatMap {
            Llama2cTokenizer.beside($0, vocabularySize: config.vocabulary, warnings: &warnings)
        }
        return .init(config: config, tokenizer: tokenizer, tensors: tensors, extraMetadata: ["source.metadata": .map(m)],
                     warnings: warnings)
    }
}

/// llm.c's GPT-2 checkpoints: nn.Linear orientation, every layer's tensors already split.
struct LLMCModelLayout: ModelLayout {
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        let m = reader.metadata
        guard let channels = m["llmc.channels"]?.intValue else { return nil }
        func int(_ key: String) throws -> Int {
            guard let v = m["llmc.\(key)"]?.intValue else { throw KilnError(.malformed, "llmc.\(key) is missing") }
            return v
        }
        let table = ["wte": "token_embd.weight", "wpe": "position_embd.weight", "lnfw": "output_norm.weight", "lnfb": "output_norm.bias",
                     "ln1w": "attn_norm.weight", "ln1b": "attn_norm.bias", "qkvw": "attn_qkv.weight", "qkvb": "attn_qkv.bias",
                     "attprojw": "attn_output.weight", "attprojb": "attn_output.bias", "ln2w": "ffn_norm.weight", "ln2b": "ffn_norm.bias",
                     "fcw": "ffn_up.weight", "fcb": "ffn_up.bias", "fcprojw": "ffn_down.weight", "fcprojb": "ffn_down.bias"]
        var tensors: [CanonicalTensor] = []
        for source in reader.sourceTensors {
            let parts = source.name.split(separator: ".").map(String.init)
            if parts.count == 3, parts[0] == "layers", let suffix = table[parts[2]] {
                tensors.append(CanonicalTensor(identity: source, name: "blk.\(parts[1]).\(suffix)"))
            } else if let mapped = table[source.name] {
                tensors.append(CanonicalTensor(identity: source, name: mapped))
            } else {
                tensors.append(CanonicalTensor(identity: source))
            }
        }
        let heads = try int("num_heads")
        var config = ModelConfig(
            architecture: "gpt2", family: .gpt2, layers: try int("num_layers"), embedding: channels, heads: heads, kvHeads: heads,
            headDim: channels / max(heads, 1), feedForward: 4 * channels,
            // The embedding is padded to a multiple of 128 rows; logits cover the padded rows.
            vocabulary: try int("padded_vocab_size"), context: try int("max_seq_len"), normEpsilon: 1e-5,
            tiedEmbeddings: true, attentionBias: true)
        config.ropeDimensions = 0
        return .init(config: config, tokenizer: nil, tensors: tensors, extraMetadata: ["source.metadata": .map(m)])
    }
}
