import KilnCore

/// Compares what two models say about themselves, in canonical form so formats can be mixed:
/// the model config field by field (`config.*`), the tokenizer (`TokenizerComparison`), and
/// the remaining metadata keys (`general.name`, the source's own keys as
/// `source.metadata.<key>`, and for `.kiln` files `provenance.*` and `source.format`).
enum MetadataComparison {
    static func compare(_ a: CanonicalModel, _ b: CanonicalModel, ignoring patterns: [String])
        -> (differences: [MetadataDifference], notes: [String])
    {
        var differences: [MetadataDifference] = []
        var notes: [String] = []

        switch (a.config, b.config) {
        case (nil, nil):
            break
        case (let x?, nil):
            differences.append(MetadataDifference(key: "config", kind: .onlyInA, a: x.architecture, b: nil))
        case (nil, let y?):
            differences.append(MetadataDifference(key: "config", kind: .onlyInB, a: nil, b: y.architecture))
        case (let x?, let y?):
            // GGUF stores hyper-parameters as f32, so a faithful conversion of 1e-6 reads back as
            // 9.99999997e-07: config numbers are compared at f32 precision.
            differences += compareMaps(flatten(x.metadata, prefix: "config"), flatten(y.metadata, prefix: "config"),
                                       equal: { x, y in
                                           if let u = x.doubleValue, let v = y.doubleValue { return Float(u) == Float(v) }
                                           return x == y
                                       })
        }

        differences += TokenizerComparison.compare(a.tokenizer, b.tokenizer)

        var otherA = otherMetadata(a), otherB = otherMetadata(b)
        let originA = origin(a), originB = origin(b)
        if originA != originB {
            // Each format's own keys (GGUF key-values, safetensors `__metadata__`) mean different
            // things; comparing them would only list every key as missing.
            // `source.gguf_types` (GGUF value types kept for a round trip) is such a key too.
            func isSourceKey(_ key: String) -> Bool { key.hasPrefix("source.metadata.") || key == "source.gguf_types" }
            let dropped = (Array(otherA.keys) + Array(otherB.keys)).contains(where: isSourceKey)
            otherA = otherA.filter { !isSourceKey($0.key) }
            otherB = otherB.filter { !isSourceKey($0.key) }
            if dropped { notes.append("source metadata not compared: the models come from different formats (\(originA), \(originB))") }
        }
        differences += compareMaps(otherA, otherB)

        let before = differences.count
        differences.removeAll { d in patterns.contains { Glob.matches($0, d.key) } }
        let ignored = before - differences.count
        if ignored > 0 {
            notes.append("\(ignored) metadata difference\(ignored == 1 ? "" : "s") ignored (\(patterns.joined(separator: ", ")))")
        }
        return (differences, notes)
    }

    /// The format the model was first read from: what a `.kiln` file records, else its own.
    static func origin(_ model: CanonicalModel) -> String {
        if model.reader is KilnFile { return model.reader.metadata["source.format"]?.stringValue ?? "kiln" }
        return model.reader.formatName
    }

    /// Metadata beyond config and tokenizer, flat: the source's own map one level down.
    private static func otherMetadata(_ model: CanonicalModel) -> [String: MetadataValue] {
        var result: [String: MetadataValue] = [:]
        for (key, value) in model.extraMetadata {
            if key == "source.metadata", let map = value.mapValue {
                for (inner, innerValue) in map { result["source.metadata.\(inner)"] = innerValue }
            } else {
                result[key] = value
            }
        }
        if model.reader is KilnFile {
            // The canonical view drops how the file was made; the diff shows it when asked.
            for (key, value) in model.reader.metadata where key.hasPrefix("provenance.") || key == "source.format" {
                result[key] = value
            }
        }
        return result
    }

    static func flatten(_ value: MetadataValue, prefix: String) -> [String: MetadataValue] {
        guard let map = value.mapValue else { return [prefix: value] }
        var result: [String: MetadataValue] = [:]
        for (key, inner) in map { result.merge(flatten(inner, prefix: "\(prefix).\(key)")) { first, _ in first } }
        return result
    }

    static func compareMaps(_ a: [String: MetadataValue], _ b: [String: MetadataValue],
                            equal: (MetadataValue, MetadataValue) -> Bool = { $0 == $1 }) -> [MetadataDifference] {
        var differences: [MetadataDifference] = []
        for key in Set(a.keys).union(b.keys).sorted() {
            switch (a[key], b[key]) {
            case (let x?, let y?) where !equal(x, y):
                differences.append(MetadataDifference(key: key, kind: .changed, a: render(x), b: render(y)))
            case (let x?, nil):
                differences.append(MetadataDifference(key: key, kind: .onlyInA, a: render(x), b: nil))
            case (nil, let y?):
                differences.append(MetadataDifference(key: key, kind: .onlyInB, a: nil, b: render(y)))
            default:
                break
            }
        }
        return differences
    }

    /// A value in a few dozen characters: long strings cut, arrays and maps summarised.
    static func render(_ value: MetadataValue) -> String {
        switch value {
        case .string(let s): return quoted(s)
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let v): return "\(v)"
        case .bool(let v): return String(v)
        case .bytes(let v): return "<\(v.count) bytes>"
        case .array(let items):
            if items.count <= 4 { return "[" + items.map(render).joined(separator: ", ") + "]" }
            return "[\(items.count) items: " + items.prefix(3).map(render).joined(separator: ", ") + ", …]"
        case .map(let map):
            return "{\(map.count) key\(map.count == 1 ? "" : "s")}"
        }
    }

    /// A string in quotes with control characters escaped, cut to `limit` characters.
    static func quoted(_ s: String, limit: Int = 60) -> String {
        var text = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\"": text += "\\\""
            case _ where scalar.value < 0x20: text += "\\u{\(String(scalar.value, radix: 16))}"
            default: text.unicodeScalars.append(scalar)
            }
        }
        if text.count > limit { text = String(text.prefix(limit)) + "…" }
        return "\"" + text + "\""
    }
}
