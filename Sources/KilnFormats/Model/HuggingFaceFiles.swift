import Foundation
import KilnCore

/// Reads the JSON and text files Hugging Face keeps beside a checkpoint: `tokenizer.json`
/// (both `merges` spellings), or `vocab.json` + `merges.txt`, with special tokens and the chat
/// template from `tokenizer_config.json`, `generation_config.json` and `config.json`.
enum HuggingFaceFiles {
    /// Files larger than this are not tokenizer or config files.
    static let maxSize = 256 << 20

    static func readJSON(_ path: String) throws -> JSONValue {
        let mapping = try MappedFile(path: path)
        guard mapping.count <= maxSize else { throw KilnError(.unsupported, "is larger than \(maxSize >> 20) MiB", file: path) }
        return try withFileContext(path) { try JSONValue.parse(mapping.bytes) }
    }

    static func tokenizer(in directory: URL, config: JSONValue) throws -> TokenizerSpec? {
        func file(_ name: String) -> String? {
            let path = directory.appendingPathComponent(name).path
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
        var tokens: [String] = []
        var merges: [String] = []
        var kinds: [TokenizerSpec.TokenKind] = []
        var pre = "gpt-2"
        var modelKind = "gpt2"
        var scores: [Float] = []
        var addSpacePrefix = false
        var unknownID: Int?
        if let path = file("tokenizer.json") {
            let json = try readJSON(path)
            let model = json["model"]
            let type = model?["type"]?.stringValue
            guard let model, type == "BPE" || type == "Unigram" else {
                throw KilnError(.unsupported, "tokenizer model '\(type ?? "none")' is not one Kiln reads (BPE, Unigram)", file: path)
            }
            var byID: [Int: (String, TokenizerSpec.TokenKind)]
            var scoreByID: [Int: Float] = [:]
            if type == "Unigram" {
                (byID, scoreByID) = try unigramVocabulary(model["vocab"], path)
                unknownID = model["unk_id"]?.intValue
            } else {
                byID = try idMap(model["vocab"], path)
            }
            let sentencePiece = SentencePieceShape(json)
            if type == "Unigram" || sentencePiece.isSentencePiece {
                modelKind = type == "Unigram" ? "unigram" : "llama"
                pre = sentencePiece.pre
                addSpacePrefix = sentencePiece.addSpacePrefix
                if model["byte_fallback"]?.boolValue == true {
                    for (id, entry) in byID where SentencePieceShape.isByteToken(entry.0) { byID[id] = (entry.0, .byte) }
                }
            }
            for added in json["added_tokens"]?.arrayValue ?? [] {
                guard let id = added["id"]?.intValue, let content = added["content"]?.stringValue else { continue }
                byID[id] = (content, added["special"]?.boolValue == true ? .control : .userDefined)
            }
            (tokens, kinds) = try dense(byID, path)
            if !scoreByID.isEmpty { scores = tokens.indices.map { scoreByID[$0] ?? 0 } }
            merges = try mergeList(model["merges"]?.arrayValue ?? [], path)
            if modelKind == "gpt2" {
                pre = preTokenizer(json["pre_tokenizer"], ignoresMerges: model["ignore_merges"]?.boolValue ?? false)
            }
        } else if let vocabPath = file("vocab.json"), let mergesPath = file("merges.txt") {
            (tokens, kinds) = try dense(try idMap(try readJSON(vocabPath), vocabPath), vocabPath)
            // The mapping must outlive the decoding: a temporary would be unmapped mid-read.
            let mapping = try MappedFile(path: mergesPath)
            let text = withExtendedLifetime(mapping) { String(decoding: mapping.bytes, as: UTF8.self) }
            merges = text.split(separator: "\n", omittingEmptySubsequences: true)
                .filter { !$0.hasPrefix("#version") }.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                .filter { !$0.isEmpty }
        } else {
            return nil
        }

        let tokenizerConfig = try file("tokenizer_config.json").map(readJSON)
        let generation = try file("generation_config.json").map(readJSON)
        let idOf = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        func special(_ key: String) -> Int? {
            if let value = tokenizerConfig?[key] {
                let content = value.stringValue ?? value["content"]?.stringValue
                if let content, let id = idOf[content] { return id }
            }
            let idKey = key + "_id"
            if let id = generation?[idKey]?.intValue ?? generation?[idKey]?.arrayValue?.first?.intValue { return id }
            return config[idKey]?.intValue
        }
        // Several end ids (Llama 3 Instruct lists end_of_text, eom and eot): the last is the end of a turn.
        let endIDs = generation?["eos_token_id"]?.arrayValue?.compactMap(\.intValue) ?? []
        let eos = special("eos_token")
        let eot = endIDs.count > 1 ? endIDs.last.flatMap { $0 == eos ? nil : $0 } : nil
        var chatTemplate = tokenizerConfig?["chat_template"]?.stringValue
        if chatTemplate == nil, let named = tokenizerConfig?["chat_template"]?.arrayValue {
            chatTemplate = named.first { $0["name"]?.stringValue == "default" }?["template"]?.stringValue
        }
        // Recent transformers releases save the template in its own file, not in tokenizer_config.json.
        if chatTemplate == nil, let path = file("chat_template.jinja") {
            let mapping = try MappedFile(path: path)
            guard mapping.count <= maxSize else { throw KilnError(.unsupported, "is larger than \(maxSize >> 20) MiB", file: path) }
            chatTemplate = String(decoding: mapping.bytes, as: UTF8.self)
        }
        let spec = TokenizerSpec(
            model: modelKind, pre: pre, tokens: tokens, merges: merges, kinds: kinds,
            bosID: special("bos_token"), eosID: eos, eotID: eot, padID: special("pad_token"),
            unknownID: special("unk_token") ?? unknownID ?? (modelKind == "gpt2" ? nil : idOf["<unk>"]),
            addBOS: tokenizerConfig?["add_bos_token"]?.boolValue ?? false,
            addEOS: tokenizerConfig?["add_eos_token"]?.boolValue ?? false, chatTemplate: chatTemplate,
            scores: scores, addSpacePrefix: addSpacePrefix)
        try spec.validate()
        return spec
    }

    private static func idMap(_ vocab: JSONValue?, _ path: String) throws -> [Int: (String, TokenizerSpec.TokenKind)] {
        guard let object = vocab?.objectValue else { throw KilnError(.malformed, "vocabulary is not a JSON object", file: path) }
        var byID: [Int: (String, TokenizerSpec.TokenKind)] = [:]
        for (token, id) in object {
            guard let id = id.intValue, id >= 0 else { throw KilnError(.malformed, "token '\(token)' has no valid id", file: path) }
            byID[id] = (token, .normal)
        }
        return byID
    }

    /// A Unigram model's `vocab`: `[[piece, score], …]`, ids in order.
    private static func unigramVocabulary(_ vocab: JSONValue?, _ path: String) throws
        -> ([Int: (String, TokenizerSpec.TokenKind)], [Int: Float])
    {
        guard let entries = vocab?.arrayValue else { throw KilnError(.malformed, "Unigram vocabulary is not a JSON array", file: path) }
        var byID: [Int: (String, TokenizerSpec.TokenKind)] = [:]
        var scores: [Int: Float] = [:]
        for (id, entry) in entries.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue, let score = pair[1].doubleValue else {
                throw KilnError(.malformed, "model.vocab[\(id)] is not [piece, score]", file: path)
            }
            byID[id] = (piece, .normal)
            scores[id] = Float(score)
        }
        return (byID, scores)
    }

    private static func dense(_ byID: [Int: (String, TokenizerSpec.TokenKind)], _ path: String) throws
        -> ([String], [TokenizerSpec.TokenKind])
    {
        let count = (byID.keys.max() ?? -1) + 1
        guard count == byID.count else {
            throw KilnError(.malformed, "token ids are not contiguous: \(byID.count) tokens with ids up to \(count - 1)", file: path)
        }
        var tokens = [String](repeating: "", count: count)
        var kinds = [TokenizerSpec.TokenKind](repeating: .normal, count: count)
        for (id, entry) in byID {
            tokens[id] = entry.0
            kinds[id] = entry.1
        }
        return (tokens, kinds.contains { $0 != .normal } ? kinds : [])
    }

    /// Merges as `"a b"` strings, from either spelling tokenizers has used.
    private static func mergeList(_ values: [JSONValue], _ path: String) throws -> [String] {
        try values.enumerated().map { index, value in
            if let s = value.stringValue { return s }
            if let pair = value.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                return a + " " + b
            }
            throw KilnError(.malformed, "merges[\(index)] is neither \"a b\" nor [\"a\", \"b\"]", file: path)
        }
    }

    /// Names the pre-tokeniser the way llama.cpp does, from tokenizer.json's description. Llama 3's
    /// expression comes with `ignore_merges` (llama-bpe) or, in older files, without (smaug-bpe,
    /// which merges every piece).
    static func preTokenizer(_ json: JSONValue?, ignoresMerges: Bool) -> String {
        let steps = json?["pretokenizers"]?.arrayValue ?? (json.map { [$0] } ?? [])
        let types = steps.compactMap { $0["type"]?.stringValue }
        let patterns = steps.compactMap { $0["pattern"]?["Regex"]?.stringValue }
        if patterns.contains(where: { $0.contains("\\p{N}{1,3}") }) { return ignoresMerges ? "llama-bpe" : "smaug-bpe" }
        if patterns.contains(where: { $0.contains("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+") }) { return "qwen2" }
        if types.contains("Digits"), steps.contains(where: { $0["individual_digits"]?.boolValue == true }) { return "smollm" }
        return "gpt-2"
    }
}

extension TokenizerSpec {
    /// The tokenizer of a Hugging Face checkpoint directory (`tokenizer.json`, or `vocab.json` +
    /// `merges.txt`, with `tokenizer_config.json`), without a model; nil when it has none.
    package static func huggingFace(directory: URL) throws -> TokenizerSpec? {
        try HuggingFaceFiles.tokenizer(in: directory, config: .object([:]))
    }
}
