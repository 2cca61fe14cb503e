import Foundation
import KilnCore

/// The inverse of `HuggingFaceModelLayout`: canonical tensors under Hugging Face names and
/// arrangement (GPT-2 `Conv1D` weights transposed back to `[in, out]`, Llama q/k rows back in
/// rotate-half order), and the `config.json` and tokenizer files (`HuggingFaceTokenizerExport`)
/// that let transformers (and Kiln's own HF reader) load the folder.
enum HuggingFaceExport {
    typealias Arranged = (name: String, shape: [Int], step: ExportStep, canonical: CanonicalTensor)

    static func arrange(_ model: CanonicalModel) throws -> (tensors: [Arranged], warnings: [String]) {
        guard let config = model.config else {
            throw KilnError(.usage, "--layout hf needs a recognised architecture (gpt2 or the llama family); use --layout canonical",
                            file: model.reader.paths.first)
        }
        // The config.json written here describes a plain decoder; these features would be lost.
        let lost = config.features.subtracting([.qkvBias, .queryKeyNorm, .linearRope])
        guard lost.isEmpty else {
            throw KilnError(.unsupported, "--layout hf does not write \(config.architecture)'s \(lost.sorted().map(\.rawValue).joined(separator: ", ")); use --layout canonical",
                            file: model.reader.paths.first)
        }
        var warnings = tokenizerWarnings(model)
        let tensors: [Arranged] = model.tensors.map { tensor in
            if let arranged = config.family == .gpt2 ? gpt2(tensor) : llama(tensor, config) { return arranged }
            warnings.append("tensor '\(tensor.name)' has no Hugging Face name; written under its canonical name")
            return (tensor.name, tensor.shape, .none, tensor)
        }
        return (tensors, warnings)
    }

    private static let gpt2Direct = Dictionary(uniqueKeysWithValues: HuggingFaceModelLayout.gpt2Direct.map { ($1, $0) })
    private static let gpt2Block = Dictionary(uniqueKeysWithValues: HuggingFaceModelLayout.gpt2Block.map { ($1.name, ($0, $1.transpose)) })
    private static let llamaDirect = Dictionary(uniqueKeysWithValues: HuggingFaceModelLayout.llamaDirect.map { ($1, $0) })
    private static let llamaBlock = Dictionary(uniqueKeysWithValues: HuggingFaceModelLayout.llamaBlock.map { ($1, $0) })

    /// `blk.N.rest` split into N and rest.
    private static func block(_ name: String) -> (layer: Int, rest: String)? {
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]) else { return nil }
        return (layer, parts[2])
    }

    private static func gpt2(_ tensor: CanonicalTensor) -> Arranged? {
        if let name = gpt2Direct[tensor.name] { return (name, tensor.shape, .none, tensor) }
        guard let (layer, rest) = block(tensor.name), let (suffix, transpose) = gpt2Block[rest] else { return nil }
        let name = "h.\(layer).\(suffix)"
        guard transpose, tensor.shape.count == 2 else { return (name, tensor.shape, .none, tensor) }
        return (name, [tensor.shape[1], tensor.shape[0]], .transpose, tensor)
    }

    private static func llama(_ tensor: CanonicalTensor, _ config: ModelConfig) -> Arranged? {
        if let name = llamaDirect[tensor.name] {
            return (name == "lm_head.weight" ? name : "model." + name, tensor.shape, .none, tensor)
        }
        guard let (layer, rest) = block(tensor.name), let suffix = llamaBlock[rest] else { return nil }
        var step = ExportStep.none
        if config.ropeStyle == .normal {
            if rest.hasPrefix("attn_q.") { step = .deinterleaveHeads(heads: config.heads) }
            if rest.hasPrefix("attn_k.") { step = .deinterleaveHeads(heads: config.kvHeads) }
        }
        return ("model.layers.\(layer).\(suffix)", tensor.shape, step, tensor)
    }

    // MARK: Side files

    /// The files written beside the safetensors file, by name.
    static func sideFiles(_ plan: ExportPlan) throws -> [(name: String, contents: String)] {
        guard let config = plan.model.config else { return [] }
        var files = [("config.json", configJSON(config, plan).serialized(pretty: true) + "\n")]
        if let tokenizer = exportedTokenizer(plan.model) {
            files += HuggingFaceTokenizerExport.files(tokenizer, contextLength: config.context)
        } else {
            files += sourceTokenizerFiles(plan.model)
        }
        return files
    }

    /// The tokenizer files Kiln does not write itself (SentencePiece `tokenizer.json`: Metaspace
    /// BPE with byte fallback, Unigram), copied unchanged from the Hugging Face folder the model
    /// was read from — they are the files its tokenizer was read from.
    private static func sourceTokenizerFiles(_ model: CanonicalModel) -> [(name: String, contents: String)] {
        guard let folder = sourceTokenizerFolder(model) else { return [] }
        return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"].compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path),
                  let text = String(data: data, encoding: .utf8) else { return nil }
            return (name, text)
        }
    }

    /// The Hugging Face folder the model's tokenizer was read from, when it holds a `tokenizer.json`.
    private static func sourceTokenizerFolder(_ model: CanonicalModel) -> URL? {
        guard model.tokenizer != nil, model.reader.formatName == "safetensors", let first = model.reader.paths.first else { return nil }
        let folder = URL(fileURLWithPath: first).deletingLastPathComponent()
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) ? folder : nil
    }

    /// The tokenizer the side files describe: byte-level BPE only, the one kind Kiln writes as `tokenizer.json`
    /// (a SentencePiece vocabulary is left out of the export, with the other side files written).
    private static func exportedTokenizer(_ model: CanonicalModel) -> TokenizerSpec? {
        guard let tokenizer = model.tokenizer, tokenizer.model == "gpt2" else { return nil }
        return tokenizer
    }

    private static func tokenizerWarnings(_ model: CanonicalModel) -> [String] {
        if let tokenizer = model.tokenizer, tokenizer.model != "gpt2" {
            if sourceTokenizerFolder(model) != nil {
                return ["tokenizer model '\(tokenizer.model)' is not byte-level BPE; its tokenizer files are copied from the source folder"]
            }
            return ["tokenizer model '\(tokenizer.model)' is not byte-level BPE; no tokenizer files are written"]
        }
        return exportedTokenizer(model).map(HuggingFaceTokenizerExport.warnings) ?? []
    }

    private static let architectures = [
        "gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
        "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "granite": "GraniteForCausalLM",
    ]

    static func configJSON(_ config: ModelConfig, _ plan: ExportPlan) -> JSONValue {
        func int(_ v: Int) -> JSONValue { .int(Int64(v)) }
        var json: [String: JSONValue] = [
            "architectures": .array([.string(architectures[config.architecture] ?? "LlamaForCausalLM")]),
            "model_type": .string(config.family == .gpt2 ? "gpt2" : config.architecture),
            "vocab_size": int(config.vocabulary),
            "tie_word_embeddings": .bool(config.tiedEmbeddings),
        ]
        // The dtype most weight bytes are stored in, as transformers names it.
        var bytesByType: [ElementType: Int] = [:]
        for tensor in plan.tensors { bytesByType[tensor.type, default: 0] += tensor.byteCount }
        if let dominant = bytesByType.max(by: { $0.value < $1.value })?.key {
            json["torch_dtype"] = .string([ElementType.f16: "float16", .bf16: "bfloat16"][dominant] ?? "float32")
        }
        if let bos = plan.model.tokenizer?.bosID { json["bos_token_id"] = int(bos) }
        if let eos = plan.model.tokenizer?.eosID { json["eos_token_id"] = int(eos) }
        switch config.family {
        case .gpt2:
            json.merge([
                "n_embd": int(config.embedding), "n_head": int(config.heads), "n_layer": int(config.layers),
                "n_positions": int(config.context), "n_ctx": int(config.context), "n_inner": int(config.feedForward),
                "layer_norm_epsilon": .double(config.normEpsilon), "activation_function": .string("gelu_new"),
            ]) { _, new in new }
        case .llama:
            json.merge([
                "hidden_size": int(config.embedding), "intermediate_size": int(config.feedForward),
                "num_hidden_layers": int(config.layers), "num_attention_heads": int(config.heads),
                "num_key_value_heads": int(config.kvHeads), "head_dim": int(config.headDim),
                "max_position_embeddings": int(config.context), "rms_norm_eps": .double(config.normEpsilon),
                "rope_theta": .double(config.ropeBase), "hidden_act": .string("silu"), "attention_bias": .bool(config.attentionBias),
                "mlp_bias": .bool(false),
            ]) { _, new in new }
            if config.ropeScale != 1 {
                json["rope_scaling"] = .object(["type": .string("linear"), "rope_type": .string("linear"), "factor": .double(config.ropeScale)])
            }
        }
        return .object(json)
    }
}
