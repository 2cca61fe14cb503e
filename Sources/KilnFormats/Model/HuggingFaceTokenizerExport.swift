import KilnCore

/// The tokenizer files of a `--layout hf` folder, made from a byte-level BPE `TokenizerSpec`:
/// `tokenizer.json` (what the `tokenizers` library and transformers' `AutoTokenizer` load),
/// `tokenizer_config.json` (special tokens, chat template, whether BOS/EOS are added),
/// `generation_config.json` (the ids generation starts and stops with) and GPT-2's
/// `vocab.json` + `merges.txt` for readers that predate `tokenizer.json`.
///
/// The tokenizer they describe does what Kiln's `BPETokenizer` does with the same spec: the
/// vocabulary's pre-tokenizer family, merges by rank (whole-word lookup where the family
/// ignores merges), control/user-defined tokens matched in the text before anything else,
/// byte-level decoding. Nothing is normalised, because Kiln normalises nothing.
enum HuggingFaceTokenizerExport {
    /// The class transformers builds from `tokenizer.json` as written, for any model type.
    /// (A model-specific class such as `GPT2Tokenizer` rebuilds its own pre-tokenizer and would
    /// drop SmolLM's digit splitting.) Transformers 4 and 5 both know this name.
    static let tokenizerClass = "PreTrainedTokenizerFast"

    static func files(_ tokenizer: TokenizerSpec, contextLength: Int?) -> [(name: String, contents: String)] {
        var files = [
            ("tokenizer.json", tokenizerJSON(tokenizer).serialized() + "\n"),
            ("tokenizer_config.json", tokenizerConfig(tokenizer, contextLength: contextLength).serialized(pretty: true) + "\n"),
            ("vocab.json", JSONValue.object(vocabulary(tokenizer)).serialized() + "\n"),
            ("merges.txt", "#version: 0.2\n" + tokenizer.merges.map { $0 + "\n" }.joined()),
        ]
        if let generation = generationConfig(tokenizer) {
            files.append(("generation_config.json", generation.serialized(pretty: true) + "\n"))
        }
        return files
    }

    /// What the files cannot say exactly, for `ExportPlan.warnings`.
    static func warnings(_ tokenizer: TokenizerSpec) -> [String] {
        var warnings: [String] = []
        if PreTokenizerFamily(vocabularyName: tokenizer.pre) == nil {
            warnings.append("pre-tokenizer '\(tokenizer.pre)' is not one Kiln knows; tokenizer.json uses GPT-2's, as Kiln does when it runs the model")
        }
        let duplicates = tokenizer.tokens.count - Set(tokenizer.tokens).count
        if duplicates > 0 {
            warnings.append("\(duplicates) tokens repeat an earlier token's text; tokenizer.json maps each text to its first id")
        }
        return warnings
    }

    // MARK: tokenizer.json

    static func tokenizerJSON(_ tokenizer: TokenizerSpec) -> JSONValue {
        let family = PreTokenizerFamily(vocabularyName: tokenizer.pre) ?? .gpt2
        let model: [String: JSONValue] = [
            "type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
            "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false),
            "ignore_merges": .bool(PreTokenizerFamily.ignoresMerges(vocabularyName: tokenizer.pre)),
            "vocab": .object(vocabulary(tokenizer)),
            "merges": .array(tokenizer.merges.map(JSONValue.string)),
        ]
        return .object([
            "version": .string("1.0"), "truncation": .null, "padding": .null, "normalizer": .null,
            "added_tokens": .array(addedTokens(tokenizer)),
            "pre_tokenizer": preTokenizer(family),
            "post_processor": postProcessor(tokenizer),
            "decoder": byteLevel(trimOffsets: true, useRegex: true, addPrefixSpace: true),
            "model": .object(model),
        ])
    }

    /// Every token by its text; a text that occurs twice keeps its first id.
    private static func vocabulary(_ tokenizer: TokenizerSpec) -> [String: JSONValue] {
        var vocabulary: [String: JSONValue] = [:]
        for (id, token) in tokenizer.tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = .int(Int64(id)) }
        return vocabulary
    }

    /// Control, unknown and user-defined tokens, which both Kiln and `tokenizers` match in the
    /// text before splitting it. `special` (control, unknown) is what `skip_special_tokens` drops.
    private static func addedTokens(_ tokenizer: TokenizerSpec) -> [JSONValue] {
        tokenizer.kinds.enumerated().compactMap { id, kind in
            guard kind == .control || kind == .unknown || kind == .userDefined else { return nil }
            return .object([
                "id": .int(Int64(id)), "content": .string(tokenizer.tokens[id]), "single_word": .bool(false),
                "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false),
                "special": .bool(kind != .userDefined),
            ])
        }
    }

    private static func byteLevel(trimOffsets: Bool, useRegex: Bool, addPrefixSpace: Bool = false) -> JSONValue {
        .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(addPrefixSpace),
                 "trim_offsets": .bool(trimOffsets), "use_regex": .bool(useRegex)])
    }

    /// The family's splitting as `tokenizers` spells it (the same descriptions the models' own
    /// `tokenizer.json` files use, which `HuggingFaceFiles.preTokenizer` reads back).
    static func preTokenizer(_ family: PreTokenizerFamily) -> JSONValue {
        func split(_ pattern: String) -> JSONValue {
            .object(["type": .string("Split"), "pattern": .object(["Regex": .string(pattern)]),
                     "behavior": .string("Isolated"), "invert": .bool(false)])
        }
        func sequence(_ steps: [JSONValue]) -> JSONValue { .object(["type": .string("Sequence"), "pretokenizers": .array(steps)]) }
        switch family {
        case .gpt2:
            return byteLevel(trimOffsets: true, useRegex: true)
        case .digitsThenGPT2:
            return sequence([.object(["type": .string("Digits"), "individual_digits": .bool(true)]),
                             byteLevel(trimOffsets: true, useRegex: true)])
        case .llama3:
            return sequence([split(PreTokenizerFamily.llama3Pattern), byteLevel(trimOffsets: true, useRegex: false)])
        case .qwen2:
            return sequence([split(PreTokenizerFamily.qwen2Pattern), byteLevel(trimOffsets: true, useRegex: false)])
        }
    }

    /// BOS before (and EOS after) each sequence when the spec asks for them, as Kiln's prompt
    /// does; otherwise only the byte-level offset fix-up GPT-2's files carry.
    private static func postProcessor(_ tokenizer: TokenizerSpec) -> JSONValue {
        let offsets = byteLevel(trimOffsets: false, useRegex: true, addPrefixSpace: true)
        let bos = tokenizer.addBOS ? tokenizer.bosID : nil, eos = tokenizer.addEOS ? tokenizer.eosID : nil
        guard bos != nil || eos != nil else { return offsets }
        func special(_ id: Int) -> JSONValue { .object(["SpecialToken": .object(["id": .string(tokenizer.tokens[id]), "type_id": .int(0)])]) }
        func sequence(_ name: String, _ typeID: Int) -> JSONValue {
            .object(["Sequence": .object(["id": .string(name), "type_id": .int(Int64(typeID))])])
        }
        let single = (bos.map { [special($0)] } ?? []) + [sequence("A", 0)] + (eos.map { [special($0)] } ?? [])
        let pair = single + (bos.map { [special($0)] } ?? []) + [sequence("B", 1)] + (eos.map { [special($0)] } ?? [])
        var specials: [String: JSONValue] = [:]
        for id in [bos, eos].compactMap({ $0 }) {
            let token = tokenizer.tokens[id]
            specials[token] = .object(["id": .string(token), "ids": .array([.int(Int64(id))]), "tokens": .array([.string(token)])])
        }
        let template: JSONValue = .object(["type": .string("TemplateProcessing"), "single": .array(single), "pair": .array(pair),
                                           "special_tokens": .object(specials)])
        return .object(["type": .string("Sequence"), "processors": .array([offsets, template])])
    }

    // MARK: tokenizer_config.json, generation_config.json

    static func tokenizerConfig(_ tokenizer: TokenizerSpec, contextLength: Int?) -> JSONValue {
        var json: [String: JSONValue] = [
            "tokenizer_class": .string(tokenizerClass),
            "add_bos_token": .bool(tokenizer.addBOS), "add_eos_token": .bool(tokenizer.addEOS),
            "add_prefix_space": .bool(false), "clean_up_tokenization_spaces": .bool(false),
        ]
        if let contextLength { json["model_max_length"] = .int(Int64(contextLength)) }
        for (key, id) in [("bos_token", tokenizer.bosID), ("eos_token", tokenizer.eosID), ("pad_token", tokenizer.padID),
                          ("unk_token", tokenizer.unknownID)] {
            if let id { json[key] = .string(tokenizer.tokens[id]) }
        }
        if let template = tokenizer.chatTemplate { json["chat_template"] = .string(template) }
        return .object(json)
    }

    /// `eos_token_id` lists the end-of-turn token after EOS when the model has one, so
    /// transformers stops where Kiln stops; the reader takes the last of several as EOT.
    static func generationConfig(_ tokenizer: TokenizerSpec) -> JSONValue? {
        var json: [String: JSONValue] = [:]
        if let bos = tokenizer.bosID { json["bos_token_id"] = .int(Int64(bos)) }
        if let eos = tokenizer.eosID {
            if let eot = tokenizer.eotID, eot != eos {
                json["eos_token_id"] = .array([.int(Int64(eos)), .int(Int64(eot))])
            } else {
                json["eos_token_id"] = .int(Int64(eos))
            }
        }
        if let pad = tokenizer.padID { json["pad_token_id"] = .int(Int64(pad)) }
        return json.isEmpty ? nil : .object(json)
    }
}
