import KilnCore

/// A tokenizer as stored in a model file, in Kiln's canonical form (`tokenizer.*` keys in
/// `.kiln`, docs/FORMAT.md §12): vocabulary, merges or scores, token kinds, special tokens and
/// chat template. Read from GGUF `tokenizer.ggml.*`, Hugging Face `tokenizer.json` /
/// `vocab.json` + `merges.txt`, llama2.c's `tokenizer.bin`, or `.kiln`.
public struct TokenizerSpec: Sendable, Equatable {
    /// Token kinds, with GGUF's numbering.
    public enum TokenKind: Int, Sendable {
        /// An ordinary token, produced by merges.
        case normal = 1
        /// The unknown-token placeholder.
        case unknown = 2
        /// A special token such as `<|im_start|>`: never produced by merges, matched whole in
        /// text when special tokens are parsed, left out when decoding skips special tokens.
        case control = 3
        /// A token added by the model's authors, matched whole in text like a control token
        /// but decoded as text.
        case userDefined = 4
        /// A reserved slot.
        case unused = 5
        /// A byte-fallback token (`<0x41>`).
        case byte = 6
    }

    /// The model kind, with llama.cpp's names: `gpt2` for byte-level BPE; `llama` for a
    /// SentencePiece vocabulary (`▁` for space, `<0x41>` byte fallback) merged by score, or by
    /// rank when `merges` is not empty (Hugging Face's byte-fallback BPE); `unigram` for
    /// SentencePiece's unigram model (best segmentation by score).
    public var model: String
    /// The pre-tokeniser: `gpt-2`, `smollm`, `starcoder`, `llama-bpe`, `qwen2`, … for `gpt2`
    /// models; for SentencePiece models `default` (the whole text is one piece, as in llama.cpp)
    /// or `metaspace` (Hugging Face's Metaspace pre-tokenizer: a piece starts at each `▁`).
    public var pre: String
    /// Tokens by id: in the byte-to-unicode alphabet (`Ġ` for space) for `gpt2` models, with
    /// `▁` for space for SentencePiece models.
    public var tokens: [String]
    /// Merge rules by rank, each `"left right"`.
    public var merges: [String]
    /// SentencePiece scores by id (empty for byte-level BPE): higher merges first (`llama`), or
    /// the log-probability of a piece (`unigram`).
    public var scores: [Float]
    /// Whether SentencePiece encoding puts a `▁` before the text (and decoding takes the first
    /// space off again); `add_space_prefix` in GGUF, Metaspace's `prepend_scheme` in HF files.
    public var addSpacePrefix: Bool
    /// Kind of each token (empty means all normal).
    public var kinds: [TokenKind]
    /// The beginning-of-sequence token.
    public var bosID: Int?
    /// The end-of-sequence token: generation stops there.
    public var eosID: Int?
    /// End of turn, for chat models whose turns end with a token other than EOS.
    public var eotID: Int?
    /// The padding token.
    public var padID: Int?
    /// The unknown token.
    public var unknownID: Int?
    /// Whether encoding a prompt starts it with the BOS token.
    public var addBOS: Bool
    /// Whether encoding appends the EOS token.
    public var addEOS: Bool
    /// Jinja chat template as the model ships it.
    public var chatTemplate: String?

    /// A tokenizer description from its parts, each as the property of the same name says;
    /// `BPETokenizer` checks them when it is built.
    public init(model: String, pre: String, tokens: [String], merges: [String], kinds: [TokenKind] = [],
                bosID: Int? = nil, eosID: Int? = nil, eotID: Int? = nil, padID: Int? = nil, unknownID: Int? = nil,
                addBOS: Bool = false, addEOS: Bool = false, chatTemplate: String? = nil,
                scores: [Float] = [], addSpacePrefix: Bool = false) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.merges = merges
        self.scores = scores
        self.addSpacePrefix = addSpacePrefix
        self.kinds = kinds
        self.bosID = bosID
        self.eosID = eosID
        self.eotID = eotID
        self.padID = padID
        self.unknownID = unknownID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.chatTemplate = chatTemplate
    }

    // MARK: Canonical metadata

    package var metadata: [String: MetadataValue] {
        var m: [String: MetadataValue] = [
            "tokenizer.model": .string(model),
            "tokenizer.pre": .string(pre),
            "tokenizer.tokens": .array(tokens.map(MetadataValue.string)),
            "tokenizer.merges": .array(merges.map(MetadataValue.string)),
            "tokenizer.add_bos": .bool(addBOS),
            "tokenizer.add_eos": .bool(addEOS),
        ]
        if !kinds.isEmpty { m["tokenizer.token_kinds"] = .array(kinds.map { .int(Int64($0.rawValue)) }) }
        if !scores.isEmpty { m["tokenizer.scores"] = .array(scores.map { .float(Double($0)) }) }
        if model != "gpt2" { m["tokenizer.add_space_prefix"] = .bool(addSpacePrefix) }
        for (key, value) in [("bos_id", bosID), ("eos_id", eosID), ("eot_id", eotID), ("pad_id", padID), ("unknown_id", unknownID)] {
            if let value { m["tokenizer.\(key)"] = .int(Int64(value)) }
        }
        if let chatTemplate { m["tokenizer.chat_template"] = .string(chatTemplate) }
        return m
    }

    /// Reads the canonical keys; nil when the metadata holds no tokenizer.
    package init?(canonical m: [String: MetadataValue]) throws {
        guard let tokens = m["tokenizer.tokens"]?.arrayValue else { return nil }
        self.init(
            model: m["tokenizer.model"]?.stringValue ?? "gpt2", pre: m["tokenizer.pre"]?.stringValue ?? "gpt-2",
            tokens: try Self.strings(tokens, "tokenizer.tokens"),
            merges: try Self.strings(m["tokenizer.merges"]?.arrayValue ?? [], "tokenizer.merges"),
            kinds: try Self.kinds(m["tokenizer.token_kinds"]?.arrayValue ?? [], "tokenizer.token_kinds"),
            bosID: m["tokenizer.bos_id"]?.intValue, eosID: m["tokenizer.eos_id"]?.intValue, eotID: m["tokenizer.eot_id"]?.intValue,
            padID: m["tokenizer.pad_id"]?.intValue, unknownID: m["tokenizer.unknown_id"]?.intValue,
            addBOS: m["tokenizer.add_bos"]?.boolValue ?? false, addEOS: m["tokenizer.add_eos"]?.boolValue ?? false,
            chatTemplate: m["tokenizer.chat_template"]?.stringValue,
            scores: try Self.scores(m["tokenizer.scores"]?.arrayValue ?? [], "tokenizer.scores"),
            addSpacePrefix: m["tokenizer.add_space_prefix"]?.boolValue ?? false)
        try validate()
    }

    /// Reads GGUF's `tokenizer.ggml.*` keys; nil when the file has no tokenizer.
    package init?(gguf m: [String: MetadataValue]) throws {
        guard let tokens = m["tokenizer.ggml.tokens"]?.arrayValue else { return nil }
        let model = m["tokenizer.ggml.model"]?.stringValue ?? "gpt2"
        // llama.cpp's defaults for a SentencePiece ("llama") vocabulary that does not say: BOS
        // added, a space put before the text.
        let sentencePiece = model == "llama"
        self.init(
            model: model, pre: m["tokenizer.ggml.pre"]?.stringValue ?? "default",
            tokens: try Self.strings(tokens, "tokenizer.ggml.tokens"),
            merges: try Self.strings(m["tokenizer.ggml.merges"]?.arrayValue ?? [], "tokenizer.ggml.merges"),
            kinds: try Self.kinds(m["tokenizer.ggml.token_type"]?.arrayValue ?? [], "tokenizer.ggml.token_type"),
            bosID: m["tokenizer.ggml.bos_token_id"]?.intValue, eosID: m["tokenizer.ggml.eos_token_id"]?.intValue,
            eotID: m["tokenizer.ggml.eot_token_id"]?.intValue, padID: m["tokenizer.ggml.padding_token_id"]?.intValue,
            unknownID: m["tokenizer.ggml.unknown_token_id"]?.intValue,
            // llama.cpp adds BOS for "gpt2"-model vocabularies only when the file asks.
            addBOS: m["tokenizer.ggml.add_bos_token"]?.boolValue ?? sentencePiece,
            addEOS: m["tokenizer.ggml.add_eos_token"]?.boolValue ?? false,
            chatTemplate: m["tokenizer.chat_template"]?.stringValue,
            scores: try Self.scores(m["tokenizer.ggml.scores"]?.arrayValue ?? [], "tokenizer.ggml.scores"),
            addSpacePrefix: m["tokenizer.ggml.add_space_prefix"]?.boolValue ?? sentencePiece)
        try validate(tokensKey: "tokenizer.ggml.tokens", mergesKey: "tokenizer.ggml.merges")
    }

    /// The GGUF keys `init(gguf:)` reads (and `ggufMetadata` writes).
    package static let ggufKeys: Set<String> = [
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges",
        "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.chat_template",
        "tokenizer.ggml.scores", "tokenizer.ggml.add_space_prefix",
    ]

    /// GGUF's key names for the same data, for writing GGUF files.
    package var ggufMetadata: [String: MetadataValue] {
        var m: [String: MetadataValue] = [
            "tokenizer.ggml.model": .string(model), "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": .array(tokens.map(MetadataValue.string)),
            "tokenizer.ggml.merges": .array(merges.map(MetadataValue.string)),
            "tokenizer.ggml.add_bos_token": .bool(addBOS), "tokenizer.ggml.add_eos_token": .bool(addEOS),
        ]
        if !kinds.isEmpty { m["tokenizer.ggml.token_type"] = .array(kinds.map { .int(Int64($0.rawValue)) }) }
        if !scores.isEmpty { m["tokenizer.ggml.scores"] = .array(scores.map { .float(Double($0)) }) }
        if model != "gpt2" { m["tokenizer.ggml.add_space_prefix"] = .bool(addSpacePrefix) }
        for (key, value) in [("bos_token_id", bosID), ("eos_token_id", eosID), ("eot_token_id", eotID),
                             ("padding_token_id", padID), ("unknown_token_id", unknownID)] {
            if let value { m["tokenizer.ggml.\(key)"] = .uint(UInt64(value)) }
        }
        if let chatTemplate { m["tokenizer.chat_template"] = .string(chatTemplate) }
        return m
    }

    /// The most tokens a vocabulary may have: 16× the largest in use (Gemma 3's 262,144).
    package static let maxTokens = 1 << 22
    /// The longest token, in UTF-8 bytes: 32× the longest in llama.cpp's test vocabularies
    /// (StarCoder's 512-byte run of spaces). A file with a 100 MB "token" is hostile, and the
    /// tokenizer's tables would otherwise grow with it.
    package static let maxTokenBytes = 16_384
    /// The most merge rules (Llama 3 has 280,147 for 128,256 tokens).
    package static let maxMerges = 1 << 24

    /// Checks the ids, the kinds and the limits above. `tokensKey` and `mergesKey` name the
    /// metadata keys the errors point at (`tokenizer.ggml.tokens` in a GGUF).
    package func validate(tokensKey: String = "tokenizer.tokens", mergesKey: String = "tokenizer.merges") throws {
        guard !tokens.isEmpty else { throw KilnError(.malformed, "tokenizer has an empty vocabulary") }
        guard tokens.count <= Self.maxTokens else {
            throw KilnError(.unsupported, "the vocabulary has \(tokens.count) tokens; Kiln reads at most \(Self.maxTokens)",
                            location: "metadata key '\(tokensKey)'")
        }
        if let (index, token) = tokens.enumerated().first(where: { $0.element.utf8.count > Self.maxTokenBytes }) {
            throw KilnError(.malformed, "token \(index) is \(token.utf8.count) bytes; tokens may be at most \(Self.maxTokenBytes) bytes",
                            location: "metadata key '\(tokensKey)'")
        }
        guard merges.count <= Self.maxMerges else {
            throw KilnError(.unsupported, "there are \(merges.count) merge rules; Kiln reads at most \(Self.maxMerges)",
                            location: "metadata key '\(mergesKey)'")
        }
        if let (index, rule) = merges.enumerated().first(where: { $0.element.utf8.count > 2 * Self.maxTokenBytes + 1 }) {
            throw KilnError(.malformed, "merge rule \(index) is \(rule.utf8.count) bytes; rules may be at most \(2 * Self.maxTokenBytes + 1) bytes",
                            location: "metadata key '\(mergesKey)'")
        }
        guard kinds.isEmpty || kinds.count == tokens.count else {
            throw KilnError(.malformed, "tokenizer has \(kinds.count) token kinds for \(tokens.count) tokens")
        }
        guard scores.isEmpty || scores.count == tokens.count else {
            throw KilnError(.malformed, "tokenizer has \(scores.count) scores for \(tokens.count) tokens")
        }
        // A NaN score has no order: merging by score would depend on where it sits in the queue.
        if let index = scores.firstIndex(where: { $0.isNaN }) {
            throw KilnError(.malformed, "score \(index) is NaN; scores must be numbers",
                            location: "token \(index) '\(tokens[index].prefix(40))'")
        }
        for (name, id) in [("BOS", bosID), ("EOS", eosID), ("EOT", eotID), ("padding", padID), ("unknown", unknownID)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw KilnError(.malformed, "tokenizer \(name) token id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }
    }

    private static func strings(_ values: [MetadataValue], _ key: String) throws -> [String] {
        try values.enumerated().map { index, value in
            guard let s = value.stringValue else { throw KilnError(.malformed, "\(key)[\(index)] is not a string") }
            return s
        }
    }

    private static func scores(_ values: [MetadataValue], _ key: String) throws -> [Float] {
        try values.enumerated().map { index, value in
            switch value {
            case .float(let x): return Float(x)
            case .int(let x): return Float(x)
            case .uint(let x): return Float(x)
            default: throw KilnError(.malformed, "\(key)[\(index)] is not a number")
            }
        }
    }

    private static func kinds(_ values: [MetadataValue], _ key: String) throws -> [TokenKind] {
        try values.enumerated().map { index, value in
            guard let raw = value.intValue, let kind = TokenKind(rawValue: raw) else {
                throw KilnError(.malformed, "\(key)[\(index)] is not a known token kind (1–6)")
            }
            return kind
        }
    }
}
