/// Jinja's built-in filters that chat templates use, with transformers' `tojson`. Resolved
/// by name at parse time: an unknown filter is a syntax error, as when Jinja compiles.
/// (`strip` and `rstrip` are string methods, `text.strip()`; Jinja has no such filters and
/// refuses `|strip`, so this does too.)
enum TemplateFilter: String, Sendable, CaseIterable {
    case abs, attr, capitalize, count, d, `default`, dictsort, e, escape, first, float, forceescape, format, indent
    case int, items, join, last, length, list, lower, map, max, min, reject, rejectattr, replace, reverse, round
    case safe, select, selectattr, sort, string, sum, title, tojson, trim, unique, upper, wordcount

    init?(name: String) { self.init(rawValue: name) }
}

extension Interpreter {
    func applyFilter(_ call: FilterCall, to value: Value, _ frame: Frame) throws -> Value {
        let (positional, keywords) = try evaluateArguments(call.arguments, frame)
        offset = call.offset
        return try applyFilter(call.filter, to: value, positional, keywords)
    }

    func applyFilter(_ filter: TemplateFilter, to value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        func bind(_ parameters: [String], variadic: Bool = false, variadicKeywords: Bool = false) throws -> CallArguments {
            try CallArguments(filter.rawValue, positional, keywords, parameters: parameters, variadic: variadic, variadicKeywords: variadicKeywords)
        }
        func text(_ result: String) throws -> Value {
            try charge(bytes: result.utf8.count)
            return .string(result)
        }
        switch filter {
        case .abs:
            _ = try bind([])
            switch value {
            case .int(let i):
                guard i != .min else { throw RenderFailure.value("integer overflow") }
                return .int(Swift.abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(Swift.abs(d))
            case .undefined(let u): throw RenderFailure.undefined(u.hint)
            default: throw RenderFailure.type("bad operand type for abs(): '\(value.typeName)'")
            }
        case .attr:
            let name = try bind(["name"]).string(0) ?? ""
            if case .undefined(let u) = value { throw RenderFailure.undefined(u.hint) }
            switch value {
            case .namespace, .loop: return try attribute(name, of: value)
            default: return PythonMethods.method(name, of: value) ?? .undefined(.attribute(name, of: value))
            }
        case .capitalize:
            _ = try bind([])
            return try text(PythonText.capitalize(PythonText.str(value)))
        case .count, .length:
            _ = try bind([])
            return .int(try length(of: value))
        case .d, .default:
            let arguments = try bind(["default_value", "boolean"])
            let useDefault = value.isUndefined || (arguments.bool(1, default: false) && !value.truthy)
            return useDefault ? arguments[0] ?? .string("") : value
        case .dictsort:
            let arguments = try bind(["case_sensitive", "by", "reverse"])
            guard case .dict(let dict) = value else { throw RenderFailure.type("dictsort: expected a dict, not \(value.typeName)") }
            let byValue = try arguments.string(1) == "value"
            let caseSensitive = arguments.bool(0, default: false)
            var pairs = dict.pairs.map { Value.tuple([.string($0.key), $0.value]) }
            pairs = try sorted(pairs, reverse: arguments.bool(2, default: false)) { pair in
                let element = pair.sequence![byValue ? 1 : 0]
                return caseSensitive ? element : Self.ignoringCase(element)
            }
            return try checkDepth(.list(pairs))
        case .e, .escape, .forceescape:
            _ = try bind([])
            var out = ""
            for c in PythonText.str(value).unicodeScalars {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(c)
                }
            }
            return try text(out)
        case .first, .last:
            _ = try bind([])
            if case .undefined(let u) = value, filter == .last { throw RenderFailure.undefined(u.hint) }
            if filter == .last, case .list(let list) = value, case .iterator = list.kind {
                throw RenderFailure.type("'\(value.typeName)' object is not reversible")
            }
            let items = try iterate(value)
            let item = filter == .first ? items.first : items.last
            return item ?? .undefined(Undefined(hint: "No \(filter.rawValue) item, sequence was empty."))
        case .float:
            let arguments = try bind(["default"])
            switch value {
            case .undefined(let u): throw RenderFailure.undefined(u.hint)
            case .double: return value
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s):
                if let d = Double(PythonText.strip(s, nil, leading: true, trailing: true).replacingUnderscores()) { return .double(d) }
            default: break
            }
            return arguments[0] ?? .double(0)
        case .format:
            let arguments = try bind([], variadic: true, variadicKeywords: true)
            guard arguments.extraKeywords.isEmpty else { throw RenderFailure.type("format: keyword arguments are not supported") }
            return try text(try PercentFormat.format(PythonText.str(value), .tuple(arguments.rest)))
        case .indent:
            let arguments = try bind(["width", "first", "blank"])
            // Jinja appends "\n" to the value itself: only text can be indented.
            if case .undefined(let u) = value { throw RenderFailure.undefined(u.hint) }
            guard case .string = value else {
                throw RenderFailure.type("unsupported operand type(s) for +=: '\(value.typeName)' and 'str'")
            }
            var prefix = String(repeating: " ", count: 4)
            if let width = arguments[0] {
                if case .string(let s) = width { prefix = s } else { prefix = String(repeating: " ", count: Swift.max(0, try arguments.int(0) ?? 4)) }
            }
            let lines = PythonText.str(value).split(separator: "\n", omittingEmptySubsequences: false)
            var out = ""
            for (i, line) in lines.enumerated() {
                if i > 0 { out += "\n" }
                let indentLine = (i > 0 || arguments.bool(1, default: false)) && (arguments.bool(2, default: false) || !line.isEmpty)
                if indentLine { out += prefix }
                out += line
            }
            return try text(out)
        case .int:
            let arguments = try bind(["default", "base"])
            let fallback = arguments[0] ?? .int(0)
            switch value {
            case .undefined(let u): throw RenderFailure.undefined(u.hint)
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite && Swift.abs(d) < 9.2e18 ? .int(Int(d)) : fallback
            case .string(let s):
                let trimmed = PythonText.strip(s, nil, leading: true, trailing: true).replacingUnderscores()
                if let i = Int(trimmed, radix: try arguments.int(1) ?? 10) { return .int(i) }
                if let d = Double(trimmed), d.isFinite, Swift.abs(d) < 9.2e18 { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case .items:
            _ = try bind([])
            return try checkDepth(try lazily("do_items") {
                switch value {
                case .dict(let dict): return dict.pairs.map { .tuple([.string($0.key), $0.value]) }
                case .undefined: return []
                default: throw RenderFailure.type("items: can only get item pairs from a mapping, not \(value.typeName)")
                }
            })
        case .join:
            let arguments = try bind(["d", "attribute"])
            let separator = try arguments.string(0) ?? ""
            var items = try iterate(value)
            if let path = arguments[1] { items = try items.map { try attributePath(path, of: $0) } }
            let pieces = items.map(PythonText.str)
            let size = pieces.reduce(0) { $0 + $1.utf8.count } + separator.utf8.count * Swift.max(0, pieces.count - 1)
            try charge(bytes: size)
            return .string(pieces.joined(separator: separator))
        case .list:
            _ = try bind([])
            return .list(try iterate(value))
        case .lower:
            _ = try bind([])
            return try text(PythonText.str(value).lowercased())
        case .upper:
            _ = try bind([])
            return try text(PythonText.str(value).uppercased())
        case .map:
            return try lazily("sync_do_map") { try mapItems(value, positional, keywords) }
        case .max, .min:
            let arguments = try bind(["case_sensitive", "attribute"])
            let items = try iterate(value)
            guard !items.isEmpty else { return .undefined(Undefined(hint: "No aggregated item, sequence was empty.")) }
            let caseSensitive = arguments.bool(0, default: false)
            let ordered = try sorted(items, reverse: filter == .max) { item in
                let key = try arguments[1].map { try self.attributePath($0, of: item) } ?? item
                return caseSensitive ? key : Self.ignoringCase(key)
            }
            return ordered[0]
        case .reject, .select, .rejectattr, .selectattr:
            return try lazily("select_or_reject") { try selectItems(value, filter, positional, keywords) }
        case .replace:
            let arguments = try bind(["old", "new", "count"])
            let old = try arguments.string(0) ?? ""
            let new = try arguments.string(1) ?? ""
            return try text(try replace(PythonText.str(value), old, new, count: try arguments.int(2) ?? -1))
        case .reverse:
            _ = try bind([])
            // `reversed(value)`, or a reversed list where Python cannot reverse in place.
            switch value {
            case .string(let s): return try text(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            case .list(let list) where list.isSequence:
                return .list(ValueList(list.items.reversed(), kind: .iterator(list.isTuple ? "reversed object" : "list_reverseiterator object")))
            case .dict(let dict): return .list(ValueList(dict.keys.reversed().map(Value.string), kind: .iterator("dict_reversekeyiterator object")))
            case .list, .undefined: return .list(Array(try iterate(value).reversed()))
            default: throw RenderFailure.type("argument must be iterable")
            }
        case .round:
            let arguments = try bind(["precision", "method"])
            let precision = try arguments.int(0) ?? 0
            let method = try arguments.string(1) ?? "common"
            guard let number = Self.double(value) else { throw RenderFailure.type("round: expected a number, not \(value.typeName)") }
            // Python's round() keeps an integer an integer (precision >= 0).
            if method == "common", precision >= 0, let integer = Self.integer(value) { return .int(integer) }
            let scale = pow10(precision)
            let scaled = number * scale
            let rounded: Double
            switch method {
            case "common": rounded = scaled.rounded(.toNearestOrEven)
            case "ceil": rounded = scaled.rounded(.up)
            case "floor": rounded = scaled.rounded(.down)
            default: throw RenderFailure.type("round: method must be 'common', 'ceil' or 'floor'")
            }
            return .double(rounded / scale)
        case .safe, .string:
            _ = try bind([])
            return .string(PythonText.str(value))
        case .sort:
            let arguments = try bind(["reverse", "case_sensitive", "attribute"])
            let caseSensitive = arguments.bool(1, default: false)
            return .list(try sorted(try iterate(value), reverse: arguments.bool(0, default: false)) { item in
                let key = try arguments[2].map { try self.attributePath($0, of: item) } ?? item
                return caseSensitive ? key : Self.ignoringCase(key)
            })
        case .sum:
            let arguments = try bind(["attribute", "start"])
            var total = arguments[1] ?? .int(0)
            for item in try iterate(value) {
                total = try binary(.add, total, try arguments[0].map { try attributePath($0, of: item) } ?? item)
            }
            return total
        case .title:
            _ = try bind([])
            return try text(PythonText.jinjaTitle(PythonText.str(value)))
        case .tojson:
            let arguments = try bind(["ensure_ascii", "indent", "separators", "sort_keys"])
            var indent: String?
            switch arguments[1] {
            case .int(let n)?: indent = String(repeating: " ", count: Swift.max(0, n))
            case .string(let s)?: indent = s
            case nil, .none?: indent = nil
            case let other?: throw RenderFailure.type("tojson: indent must be an integer or a string, not \(other.typeName)")
            }
            var separators: (String, String)?
            if let given = arguments[2], case .list(let pair) = given, pair.items.count == 2,
               case .string(let item) = pair.items[0], case .string(let key) = pair.items[1]
            {
                separators = (item, key)
            }
            let encoder = PythonJSON(indent: indent, separators: separators, sortKeys: arguments.bool(3, default: false),
                                     ensureASCII: arguments.bool(0, default: false))
            return try text(try encoder.encode(value))
        case .trim:
            let chars = try bind(["chars"]).string(0)
            return try text(PythonText.strip(PythonText.str(value), chars, leading: true, trailing: true))
        case .unique:
            let arguments = try bind(["case_sensitive", "attribute"])
            let caseSensitive = arguments.bool(0, default: false)
            return try lazily("sync_do_unique") {
                var seen: [Value] = []
                var result: [Value] = []
                for item in try iterate(value) {
                    var key = try arguments[1].map { try attributePath($0, of: item) } ?? item
                    if !caseSensitive { key = Self.ignoringCase(key) }
                    if try seen.contains(where: { try equals($0, key) }) { continue }
                    seen.append(key)
                    result.append(item)
                }
                return result
            }
        case .wordcount:
            _ = try bind([])
            var count = 0
            var inWord = false
            for c in PythonText.str(value).unicodeScalars {
                let word = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if word, !inWord { count += 1 }
                inWord = word
            }
            return .int(count)
        }
    }
}

private func pow10(_ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<Swift.min(Swift.abs(n), 400) { result *= 10 }
    return n < 0 ? 1 / result : result
}

extension String {
    /// Python number parsing accepts `_` between digits.
    func replacingUnderscores() -> String { String(unicodeScalars.filter { $0 != "_" }) }
}
