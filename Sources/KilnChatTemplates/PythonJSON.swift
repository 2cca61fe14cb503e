/// `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)` — Python's layout (`", "` and `": "` separators, or
/// `","` with an indent), keys in insertion order, non-ASCII characters as they are (Jinja's
/// own `tojson`, which escapes `<>&'`, is replaced by transformers).
struct PythonJSON {
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false
    var ensureASCII = false

    init(indent: String?, separators: (String, String)? = nil, sortKeys: Bool = false, ensureASCII: Bool = false) {
        self.indent = indent
        itemSeparator = separators?.0 ?? (indent == nil ? ", " : ",")
        keySeparator = separators?.1 ?? ": "
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
    }

    func encode(_ value: Value) throws -> String {
        var out = ""
        try write(value, into: &out, level: 0)
        return out
    }

    private func write(_ value: Value, into out: inout String, level: Int) throws {
        guard level <= PythonText.maxReprDepth else { throw RenderFailure.value("Circular reference detected") }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += PythonText.float(d) }
        case .string(let s): writeString(s, into: &out)
        case .list(let list) where !list.isSequence:
            throw RenderFailure.type("Object of type \(value.typeName) is not JSON serializable")
        case .list(let list):
            try writeContainer("[", "]", list.items.count, into: &out, level: level) { i, out in
                try write(list.items[i], into: &out, level: level + 1)
            }
        case .dict(let dict):
            let pairs = sortKeys ? dict.pairs.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } : dict.pairs
            try writeContainer("{", "}", pairs.count, into: &out, level: level) { i, out in
                writeString(pairs[i].key, into: &out)
                out += keySeparator
                try write(pairs[i].value, into: &out, level: level + 1)
            }
        case .undefined, .namespace, .callable, .loop:
            throw RenderFailure.type("Object of type \(value.typeName) is not JSON serializable")
        }
    }

    private func writeContainer(_ open: String, _ close: String, _ count: Int, into out: inout String, level: Int,
                                item: (Int, inout String) throws -> Void) throws
    {
        out += open
        guard count > 0 else { out += close; return }
        let newline = indent.map { "\n" + String(repeating: $0, count: level + 1) }
        if let newline { out += newline }
        for i in 0..<count {
            if i > 0 {
                out += itemSeparator
                if let newline { out += newline }
            }
            try item(i, &out)
        }
        if let indent { out += "\n" + String(repeating: indent, count: level) }
        out += close
    }

    private func writeString(_ s: String, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ensureASCII && c.value > 0x7E) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += Self.unicodeEscape(0xD800 + (v >> 10)) + Self.unicodeEscape(0xDC00 + (v & 0x3FF))
                    } else {
                        out += Self.unicodeEscape(c.value)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    private static func unicodeEscape(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
