import KilnCore

/// Compares two tokenizers part by part: vocabulary by id (tokens added past the end, removed
/// from the end, changed in place), token kinds, merges by rank, special token ids, the BOS/EOS
/// flags, model and pre-tokeniser names, and the chat template (with a unified excerpt).
enum TokenizerComparison {
    /// Examples listed per kind of change.
    static let examples = 3

    static func compare(_ a: TokenizerSpec?, _ b: TokenizerSpec?) -> [MetadataDifference] {
        switch (a, b) {
        case (nil, nil):
            return []
        case (let x?, nil):
            return [MetadataDifference(key: "tokenizer", kind: .onlyInA, a: "\(x.tokens.count) tokens", b: nil)]
        case (nil, let y?):
            return [MetadataDifference(key: "tokenizer", kind: .onlyInB, a: nil, b: "\(y.tokens.count) tokens")]
        case (let x?, let y?):
            return compare(x, y)
        }
    }

    private static func compare(_ a: TokenizerSpec, _ b: TokenizerSpec) -> [MetadataDifference] {
        var out: [MetadataDifference] = []
        func scalar(_ key: String, _ x: String, _ y: String) {
            if x != y { out.append(MetadataDifference(key: "tokenizer.\(key)", kind: .changed, a: x, b: y)) }
        }
        scalar("model", MetadataComparison.quoted(a.model), MetadataComparison.quoted(b.model))
        scalar("pre", MetadataComparison.quoted(a.pre), MetadataComparison.quoted(b.pre))
        scalar("add_bos", String(a.addBOS), String(b.addBOS))
        scalar("add_eos", String(a.addEOS), String(b.addEOS))
        if let tokens = sequence("tokens", a.tokens, b.tokens, noun: "tokens", render: { MetadataComparison.quoted($0) }) {
            out.append(tokens)
        }
        if let kinds = tokenKinds(a, b) { out.append(kinds) }
        if let merges = sequence("merges", a.merges, b.merges, noun: "merges", render: { MetadataComparison.quoted($0) }) {
            out.append(merges)
        }
        for (key, x, y) in [("bos_id", a.bosID, b.bosID), ("eos_id", a.eosID, b.eosID), ("eot_id", a.eotID, b.eotID),
                            ("pad_id", a.padID, b.padID), ("unknown_id", a.unknownID, b.unknownID)] where x != y {
            let kind: MetadataDifference.Kind = x == nil ? .onlyInB : y == nil ? .onlyInA : .changed
            out.append(MetadataDifference(key: "tokenizer.\(key)", kind: kind, a: special(x, a), b: special(y, b)))
        }
        if a.chatTemplate != b.chatTemplate {
            let kind: MetadataDifference.Kind = a.chatTemplate == nil ? .onlyInB : b.chatTemplate == nil ? .onlyInA : .changed
            out.append(MetadataDifference(
                key: "tokenizer.chat_template", kind: kind, a: a.chatTemplate.map(describe), b: b.chatTemplate.map(describe),
                details: LineDiff.excerpt(a.chatTemplate ?? "", b.chatTemplate ?? "")))
        }
        return out
    }

    /// Entries compared by position: `added` past A's end, `removed` past B's end, `changed` in place.
    private static func sequence(_ key: String, _ x: [String], _ y: [String], noun: String,
                                 render: (String) -> String) -> MetadataDifference? {
        guard x != y else { return nil }
        let common = min(x.count, y.count)
        let changed = (0..<common).filter { x[$0] != y[$0] }
        var details: [String] = []
        details += changed.prefix(examples).map { "~ \($0): \(render(x[$0])) → \(render(y[$0]))" }
        details += (common..<y.count).prefix(examples).map { "+ \($0): \(render(y[$0]))" }
        details += (common..<x.count).prefix(examples).map { "- \($0): \(render(x[$0]))" }
        return MetadataDifference(
            key: "tokenizer.\(key)", kind: .changed, a: "\(x.count) \(noun)", b: "\(y.count) \(noun)",
            counts: ["added": y.count - common, "removed": x.count - common, "changed": changed.count], details: details)
    }

    /// Kinds (normal, control, byte, …) of the ids both vocabularies have.
    private static func tokenKinds(_ a: TokenizerSpec, _ b: TokenizerSpec) -> MetadataDifference? {
        func kind(_ spec: TokenizerSpec, _ id: Int) -> TokenizerSpec.TokenKind { spec.kinds.isEmpty ? .normal : spec.kinds[id] }
        let common = min(a.tokens.count, b.tokens.count)
        let changed = (0..<common).filter { kind(a, $0) != kind(b, $0) }
        guard !changed.isEmpty else { return nil }
        return MetadataDifference(
            key: "tokenizer.token_kinds", kind: .changed, a: nil, b: nil, counts: ["changed": changed.count],
            details: changed.prefix(examples).map {
                "~ \($0) \(MetadataComparison.quoted(a.tokens[$0])): \(kind(a, $0)) → \(kind(b, $0))"
            })
    }

    private static func special(_ id: Int?, _ spec: TokenizerSpec) -> String? {
        guard let id else { return nil }
        return spec.tokens.indices.contains(id) ? "\(id) \(MetadataComparison.quoted(spec.tokens[id]))" : "\(id)"
    }

    private static func describe(_ template: String) -> String {
        let lines = template.split(separator: "\n", omittingEmptySubsequences: false).count
        return "\(template.utf8.count) bytes, \(lines) line\(lines == 1 ? "" : "s")"
    }
}
