import KilnCore

/// Which scheme each tensor gets. Rules are tried in order (first match wins) on canonical
/// tensor names with shell-style globs; matrices no rule matches get `defaultScheme`; vectors
/// (norms, biases) are never quantised. A recipe is a preset or a JSON file:
///
///     {"name": "mine", "method": "search", "default": "kq4",
///      "rules": [{"match": "token_embd.weight", "scheme": "q8_0"},
///                {"match": "blk.*.attn_v.weight", "scheme": "q8_0"}]}
public struct QuantRecipe: Sendable, Equatable {
    /// One rule: tensors whose canonical name matches `pattern` get `scheme`.
    public struct Rule: Sendable, Equatable {
        /// A shell-style glob on canonical names (`*` any run of characters, `?` one, `[…]` a set).
        public var pattern: String
        /// The scheme for the tensors it matches.
        public var scheme: QuantScheme
        /// A rule giving tensors that match `pattern` the scheme `scheme`.
        public init(_ pattern: String, _ scheme: QuantScheme) {
            self.pattern = pattern
            self.scheme = scheme
        }
    }

    /// A name recorded in the output's provenance (`q4-mixed`, or the JSON's `"name"`).
    public var name: String
    /// The scheme of matrices no rule matches.
    public var defaultScheme: QuantScheme
    /// Rules tried in order; the first match wins.
    public var rules: [Rule]
    /// How block scales are chosen.
    public var method: QuantMethod

    /// A recipe from its parts.
    public init(name: String, defaultScheme: QuantScheme, rules: [Rule] = [], method: QuantMethod = .search) {
        self.name = name
        self.defaultScheme = defaultScheme
        self.rules = rules
        self.method = method
    }

    /// The presets. `q4` keeps the token embedding / output head at 8 bits, as llama.cpp's Q4_0
    /// does for row lengths K-quants cannot take (`q4_1-heads8` and `kq4-heads8` the same with
    /// their scheme); `q4-mixed` also keeps the value and down-projections of the first and last
    /// blocks (the most sensitive, by llama.cpp's and our own measurements) at 8 bits and uses
    /// Kiln's kq4 for the rest. `q4_k_m` and `q5_k_m` choose each tensor's type as
    /// llama-quantize's file types of those names do (llama.cpp's `llama_tensor_get_type`, fallbacks included);
    /// `kq4_m` is the same mix on Kiln's kq4. (llama-quantize's `Q6_K` file type is the scheme
    /// `q6_k` itself: every matrix q6_k, with its fallback where rows are not whole blocks.)
    /// No preset shares a scheme's name: `q4_0` is every matrix at q4_0, `q4` the preset. Names are
    /// matched ignoring case. `tiedEmbeddings` says the model has no `output.weight` and reuses
    /// the token embedding.
    public static func preset(_ name: String, layers: Int, tiedEmbeddings: Bool = false) -> QuantRecipe? {
        let heads = [Rule("token_embd.weight", .q8_0), Rule("output.weight", .q8_0)]
        switch name.lowercased() {
        case "q8": return QuantRecipe(name: "q8", defaultScheme: .q8_0)
        case "q4": return QuantRecipe(name: "q4", defaultScheme: .q4_0, rules: heads)
        case "q4_1-heads8": return QuantRecipe(name: "q4_1-heads8", defaultScheme: .q4_1, rules: heads)
        case "kq4-heads8": return QuantRecipe(name: "kq4-heads8", defaultScheme: .kq4, rules: heads)
        case "q4-mixed":
            var rules = heads
            for layer in Set([0, max(0, layers - 1)]).sorted() {
                rules.append(Rule("blk.\(layer).attn_v.weight", .q8_0))
                rules.append(Rule("blk.\(layer).ffn_down.weight", .q8_0))
            }
            return QuantRecipe(name: "q4-mixed", defaultScheme: .kq4, rules: rules)
        case "q4_k_m", "q5_k_m", "kq4_m": return llamaFileType(name.lowercased(), layers: layers, tiedEmbeddings: tiedEmbeddings)
        default: return nil
        }
    }

    /// The names ``preset(_:layers:tiedEmbeddings:)`` knows; none is a ``QuantScheme`` name.
    public static let presetNames = ["q8", "q4", "q4_1-heads8", "kq4-heads8", "q4-mixed", "q4_k_m", "q5_k_m", "kq4_m"]

    /// What `--scheme NAME` means: a scheme's name puts every matrix in that scheme, a preset's
    /// name is the preset (case ignored either way); nil for neither.
    public static func named(_ name: String, layers: Int, tiedEmbeddings: Bool = false) -> QuantRecipe? {
        if let scheme = QuantScheme.named(name) { return QuantRecipe(name: scheme.rawValue, defaultScheme: scheme) }
        return preset(name, layers: layers, tiedEmbeddings: tiedEmbeddings)
    }

    /// A recipe from its JSON form (the type's notes show one): `"default"` is required,
    /// `"name"`, `"method"` (`search` or `rtn`) and `"rules"` are optional.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.malformed`) naming the field that is missing, of the wrong
    ///   type, or names an unknown scheme or method.
    public init(json: JSONValue) throws {
        guard case .object = json else { throw KilnError(.malformed, "recipe: expected a JSON object") }
        guard let defaultName = json["default"]?.stringValue, let scheme = QuantScheme.named(defaultName) else {
            throw KilnError(.malformed, "recipe: \"default\" must name a scheme (\(QuantScheme.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var rules: [Rule] = []
        for (index, rule) in (json["rules"]?.arrayValue ?? []).enumerated() {
            guard let pattern = rule["match"]?.stringValue, let schemeName = rule["scheme"]?.stringValue,
                  let scheme = QuantScheme.named(schemeName)
            else { throw KilnError(.malformed, "recipe: rules[\(index)] needs \"match\" and a known \"scheme\"") }
            rules.append(Rule(pattern, scheme))
        }
        let methodName = json["method"]?.stringValue ?? "search"
        guard let method = QuantMethod(rawValue: methodName) else {
            throw KilnError(.malformed, "recipe: \"method\" must be \"search\" or \"rtn\"")
        }
        self.init(name: json["name"]?.stringValue ?? "custom", defaultScheme: scheme, rules: rules, method: method)
    }

    /// The scheme for a tensor, or nil to keep it as it is.
    public func scheme(for name: String, shape: [Int]) -> QuantScheme? {
        guard shape.count == 2 else { return nil }
        let scheme = rules.first { Glob.matches($0.pattern, name) }?.scheme ?? defaultScheme
        // Block schemes need whole blocks in every row; other tensors take the scheme's
        // fallback (llama-quantize's, for the K-quants), then f16.
        let cols = shape[1]
        guard cols % scheme.type.blockElements != 0 else { return scheme }
        let fallback = scheme.fallback
        return cols % fallback.type.blockElements == 0 ? fallback : .f16
    }

    package var metadata: MetadataValue {
        .map([
            "name": .string(name), "default": .string(defaultScheme.rawValue), "method": .string(method.rawValue),
            "rules": .array(rules.map { .map(["match": .string($0.pattern), "scheme": .string($0.scheme.rawValue)]) }),
        ])
    }
}

/// Shell-style globs: `*` any run of characters, `?` one character.
package enum Glob {
    package static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
