import KilnCore

/// What a Hugging Face `tokenizer.json` says about spaces when it describes a SentencePiece
/// vocabulary, in `TokenizerSpec`'s terms (`pre`, `addSpacePrefix`):
///
/// - Llama 2 / Mistral: normalizer `Prepend("▁")` + `Replace(" ", "▁")`, no pre-tokenizer →
///   `default` with a space prefix (what llama.cpp does with `add_space_prefix`).
/// - `Metaspace` pre-tokenizer → `metaspace`, with `-first` for `prepend_scheme: "first"` and
///   `-nosplit` for `split: false`; `prepend_scheme: "never"` means no space prefix.
struct SentencePieceShape {
    /// Whether the file spells spaces as `▁` (a Metaspace pre-tokenizer or decoder, or a
    /// normalizer replacing spaces with `▁`), or falls back to `<0xNN>` byte tokens.
    let isSentencePiece: Bool
    let pre: String
    let addSpacePrefix: Bool

    init(_ json: JSONValue) {
        let normalizers = Self.steps(json["normalizer"], "normalizers")
        let preTokenizers = Self.steps(json["pre_tokenizer"], "pretokenizers")
        let decoders = Self.steps(json["decoder"], "decoders")
        let prepends = normalizers.contains { $0["type"]?.stringValue == "Prepend" && $0["prepend"]?.stringValue == "▁" }
        let replaces = normalizers.contains { $0["type"]?.stringValue == "Replace" && $0["content"]?.stringValue == "▁" }
        let metaspace = preTokenizers.first { $0["type"]?.stringValue == "Metaspace" }
        let byteFallback = json["model"]?["byte_fallback"]?.boolValue == true
        isSentencePiece = prepends || replaces || metaspace != nil || byteFallback
            || decoders.contains { $0["type"]?.stringValue == "Metaspace" || $0["type"]?.stringValue == "ByteFallback" }
        if let metaspace {
            // Older files say `add_prefix_space: true|false` instead of a scheme.
            let scheme = metaspace["prepend_scheme"]?.stringValue
                ?? (metaspace["add_prefix_space"]?.boolValue == false ? "never" : "always")
            let split = metaspace["split"]?.boolValue ?? true
            pre = "metaspace" + (scheme == "first" ? "-first" : "") + (split ? "" : "-nosplit")
            addSpacePrefix = scheme != "never" || prepends
        } else {
            pre = "default"
            addSpacePrefix = prepends
        }
    }

    /// `<0x00>` … `<0xFF>`: the byte-fallback tokens.
    static func isByteToken(_ token: String) -> Bool {
        let utf8 = Array(token.utf8)
        return utf8.count == 6 && token.hasPrefix("<0x") && token.hasSuffix(">")
            && utf8[3...4].allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) }
    }

    /// A component and its `Sequence` members, flattened.
    private static func steps(_ json: JSONValue?, _ key: String) -> [JSONValue] {
        guard let json else { return [] }
        if let members = json[key]?.arrayValue { return members.flatMap { steps($0, key) } }
        return [json]
    }
}
