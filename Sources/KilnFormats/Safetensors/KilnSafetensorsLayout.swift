import KilnCore

/// safetensors files Kiln wrote in the canonical layout: canonical tensor names, with the
/// model config and tokenizer as JSON text in `__metadata__` (safetensors allows only strings
/// there), so such a file converts back with its description intact.
struct KilnSafetensorsLayout: ModelLayout {
    static let configKey = "kiln.config"
    static let tokenizerKey = "kiln.tokenizer"
    static let nameKey = "kiln.name"

    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        let m = reader.metadata
        guard reader.formatName == "safetensors", m[Self.configKey] != nil || m[Self.tokenizerKey] != nil else { return nil }
        func decode(_ key: String) throws -> MetadataValue? {
            guard let text = m[key]?.stringValue else { return nil }
            do {
                return MetadataJSON.metadata(try JSONValue.parse(text))
            } catch let error as KilnError {
                throw KilnError(.malformed, "__metadata__ '\(key)' is not valid JSON: \(error.message)")
            }
        }
        let config = try decode(Self.configKey).map { try ModelConfig(metadata: $0) }
        let tokenizer = try decode(Self.tokenizerKey).flatMap { value -> TokenizerSpec? in
            guard let map = value.mapValue else { throw KilnError(.malformed, "__metadata__ '\(Self.tokenizerKey)' is not a JSON object") }
            return try TokenizerSpec(canonical: map)
        }
        var extra: [String: MetadataValue] = [:]
        if let name = m[Self.nameKey] { extra["general.name"] = name }
        let rest = m.filter { !$0.key.hasPrefix("kiln.") }
        if !rest.isEmpty { extra["source.metadata"] = .map(rest) }
        return .init(config: config, tokenizer: tokenizer, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
                     extraMetadata: extra)
    }
}

/// Kiln metadata values as JSON and back (for formats whose metadata is JSON text).
enum MetadataJSON {
    static func json(_ value: MetadataValue) -> JSONValue {
        switch value {
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .uint(let v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
        case .float(let v): return .double(v)
        case .string(let s): return .string(s)
        case .bytes(let b): return .array(b.map { .int(Int64($0)) })
        case .array(let a): return .array(a.map(json))
        case .map(let m): return .object(m.mapValues(json))
        }
    }

    static func metadata(_ value: JSONValue) -> MetadataValue {
        switch value {
        case .null: return .array([])
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .uint(let v): return .uint(v)
        case .double(let v): return .float(v)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(metadata))
        case .object(let o): return .map(o.mapValues(metadata))
        }
    }
}
