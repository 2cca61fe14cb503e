/// Methods templates call on strings, dicts and lists (`content.strip()`,
/// `message.get('name')`, `tool.items()`), with Python's behaviour. Mutating methods
/// (`list.append`, `dict.update`, …) are refused like transformers' immutable sandbox does.
enum PythonMethods {
    private static let unsafeListMethods: Set<String> = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
    private static let unsafeDictMethods: Set<String> = ["pop", "popitem", "setdefault", "update", "clear"]

    /// The bound method `value.name`, or nil when the type has no such method.
    static func method(_ name: String, of value: Value) -> Value? {
        switch value {
        case .string(let s):
            guard StringMethod(rawValue: name) != nil else { return nil }
            return bound(name, "str") { interpreter, positional, keywords in
                try StringMethod(rawValue: name)!.call(s, positional, keywords, interpreter)
            }
        case .dict(let dict):
            if unsafeDictMethods.contains(name) { return unsafe(name, "dict") }
            return dictMethod(name, dict)
        case .list(let list) where list.isSequence:
            if unsafeListMethods.contains(name), !list.isTuple { return unsafe(name, "list") }
            return listMethod(name, list)
        default:
            return nil
        }
    }

    private static func bound(_ name: String, _ type: String, _ body: @escaping Callable.Body) -> Value {
        .callable(Callable("\(type).\(name)", body: body))
    }

    private static func unsafe(_ name: String, _ type: String) -> Value {
        .undefined(Undefined(hint: "access to attribute '\(name)' of '\(type)' object is unsafe."))
    }

    private static func dictMethod(_ name: String, _ dict: ValueDict) -> Value? {
        switch name {
        case "items":
            return bound(name, "dict") { _, positional, keywords in
                _ = try CallArguments("items", positional, keywords, parameters: [])
                return .list(ValueList(dict.pairs.map { .tuple([.string($0.key), $0.value]) }, kind: .view("dict_items")))
            }
        case "keys":
            return bound(name, "dict") { _, positional, keywords in
                _ = try CallArguments("keys", positional, keywords, parameters: [])
                return .list(ValueList(dict.keys.map(Value.string), kind: .view("dict_keys")))
            }
        case "values":
            return bound(name, "dict") { _, positional, keywords in
                _ = try CallArguments("values", positional, keywords, parameters: [])
                return .list(ValueList(dict.values, kind: .view("dict_values")))
            }
        case "get":
            return bound(name, "dict") { _, positional, keywords in
                let arguments = try CallArguments("get", positional, keywords, parameters: ["key", "default"])
                let key = try arguments.required(0)
                if case .string(let k) = key, let found = dict[k] { return found }
                return arguments[1] ?? .none
            }
        case "copy":
            return bound(name, "dict") { _, _, _ in .dict(dict) }
        default:
            return nil
        }
    }

    private static func listMethod(_ name: String, _ list: ValueList) -> Value? {
        switch name {
        case "index", "count":
            return bound(name, list.isTuple ? "tuple" : "list") { interpreter, positional, keywords in
                let arguments = try CallArguments(name, positional, keywords, parameters: ["value"])
                let needle = try arguments.required(0)
                var count = 0
                for (i, item) in list.items.enumerated() where try interpreter.equals(item, needle) {
                    if name == "index" { return .int(i) }
                    count += 1
                }
                if name == "index" { throw RenderFailure.value("\(PythonText.repr(needle)) is not in list") }
                return .int(count)
            }
        case "copy" where !list.isTuple:
            return bound(name, "list") { _, _, _ in .list(list) }
        default:
            return nil
        }
    }
}

enum StringMethod: String {
    case strip, lstrip, rstrip, split, rsplit, splitlines, startswith, endswith, upper, lower, title, capitalize
    case swapcase, replace, find, rfind, index, count, join, format, isdigit, isalpha, isalnum, isspace, islower
    case isupper, zfill, center, ljust, rjust, removeprefix, removesuffix

    func call(_ s: String, _ positional: [Value], _ keywords: [(String, Value)], _ interpreter: Interpreter) throws -> Value {
        func bind(_ parameters: [String]) throws -> CallArguments {
            try CallArguments("str.\(rawValue)", positional, keywords, parameters: parameters)
        }
        func text(_ result: String) throws -> Value {
            try interpreter.charge(bytes: result.utf8.count)
            return .string(result)
        }
        try interpreter.charge(bytes: s.utf8.count)
        switch self {
        case .strip, .lstrip, .rstrip:
            let chars = try bind(["chars"]).string(0)
            return .string(PythonText.strip(s, chars, leading: self != .rstrip, trailing: self != .lstrip))
        case .split, .rsplit:
            let arguments = try bind(["sep", "maxsplit"])
            let separator = try arguments.string(0)
            let maxSplit = try arguments.int(1) ?? -1
            let parts: [String]
            switch (self, separator) {
            case (.split, let separator?): parts = try interpreter.split(s, separator: separator, maxSplit: maxSplit)
            case (.split, nil): parts = PythonText.split(s, maxSplit: maxSplit)
            case (_, let separator?):
                // rsplit: split the reversed text by the reversed separator.
                let reversed = { (text: String) in String(String.UnicodeScalarView(text.unicodeScalars.reversed())) }
                parts = try interpreter.split(reversed(s), separator: reversed(separator), maxSplit: maxSplit).reversed().map(reversed)
            case (_, nil):
                parts = maxSplit < 0 ? PythonText.split(s, maxSplit: -1) : PythonText.rsplitWhitespace(s, maxSplit: maxSplit)
            }
            return .list(parts.map(Value.string))
        case .splitlines:
            let keepEnds = try bind(["keepends"]).bool(0, default: false)
            var lines: [Value] = []
            var current = String.UnicodeScalarView()
            var pendingCR = false
            for c in s.unicodeScalars {
                if pendingCR {
                    pendingCR = false
                    if c == "\n" {
                        if keepEnds { current.append(c) }
                        lines.append(.string(String(current)))
                        current = String.UnicodeScalarView()
                        continue
                    }
                    lines.append(.string(String(current)))
                    current = String.UnicodeScalarView()
                }
                let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
                if breaks.contains(c.value) {
                    if keepEnds { current.append(c) }
                    if c == "\r" { pendingCR = true; continue }
                    lines.append(.string(String(current)))
                    current = String.UnicodeScalarView()
                } else {
                    current.append(c)
                }
            }
            if pendingCR || !current.isEmpty { lines.append(.string(String(current))) }
            return .list(lines)
        case .startswith, .endswith:
            let prefix = try bind(["prefix"]).required(0)
            var candidates = [prefix]
            if case .list(let tuple) = prefix, tuple.isTuple { candidates = tuple.items }
            for candidate in candidates {
                guard case .string(let affix) = candidate else {
                    throw RenderFailure.type("\(rawValue) first arg must be str or a tuple of str, not \(candidate.typeName)")
                }
                let matches = self == .startswith
                    ? s.unicodeScalars.starts(with: affix.unicodeScalars)
                    : s.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed())
                if matches { return .bool(true) }
            }
            return .bool(false)
        case .upper:
            _ = try bind([])
            return .string(s.uppercased())
        case .lower:
            _ = try bind([])
            return .string(s.lowercased())
        case .title:
            _ = try bind([])
            return .string(PythonText.pythonTitle(s))
        case .capitalize:
            _ = try bind([])
            return .string(PythonText.capitalize(s))
        case .swapcase:
            _ = try bind([])
            return .string(String(s.unicodeScalars.map { c in
                c.properties.isUppercase ? c.properties.lowercaseMapping : c.properties.isLowercase ? c.properties.uppercaseMapping : String(c)
            }.joined()))
        case .replace:
            let arguments = try bind(["old", "new", "count"])
            return try text(try interpreter.replace(s, try arguments.string(0) ?? "", try arguments.string(1) ?? "", count: try arguments.int(2) ?? -1))
        case .find, .rfind, .index:
            let needle = try bind(["sub"]).string(0) ?? ""
            let position: Int?
            if self == .rfind {
                let reversed = String(String.UnicodeScalarView(s.unicodeScalars.reversed()))
                let reversedNeedle = String(String.UnicodeScalarView(needle.unicodeScalars.reversed()))
                position = try interpreter.find(reversedNeedle, in: reversed).map { s.unicodeScalars.count - $0 - needle.unicodeScalars.count }
            } else {
                position = try interpreter.find(needle, in: s)
            }
            if position == nil, self == .index { throw RenderFailure.value("substring not found") }
            return .int(position ?? -1)
        case .count:
            return .int(try interpreter.occurrences(of: try bind(["sub"]).string(0) ?? "", in: s).count)
        case .join:
            let items = try interpreter.iterate(try bind(["iterable"]).required(0))
            var pieces: [String] = []
            for item in items {
                guard case .string(let piece) = item else {
                    throw RenderFailure.type("sequence item \(pieces.count): expected str instance, \(item.typeName) found")
                }
                pieces.append(piece)
            }
            let size = pieces.reduce(0) { $0 + $1.utf8.count } + s.utf8.count * max(0, pieces.count - 1)
            try interpreter.charge(bytes: size)
            return .string(pieces.joined(separator: s))
        case .format:
            return try text(try BraceFormat.format(s, positional, keywords))
        case .isdigit, .isalpha, .isalnum, .isspace:
            _ = try bind([])
            let scalars = s.unicodeScalars
            guard !scalars.isEmpty else { return .bool(false) }
            return .bool(scalars.allSatisfy { c in
                let digit = c.properties.numericType == .decimal || c.properties.numericType == .digit
                switch self {
                case .isdigit: return digit
                case .isalpha: return c.properties.isAlphabetic
                case .isalnum: return digit || c.properties.isAlphabetic || c.properties.numericType != nil
                default: return isPythonSpace(c)
                }
            })
        case .islower, .isupper:
            _ = try bind([])
            var cased = false
            for c in s.unicodeScalars where PythonText.isCased(c) {
                cased = true
                if self == .islower ? c.properties.isUppercase : c.properties.isLowercase { return .bool(false) }
            }
            return .bool(cased)
        case .zfill, .center, .ljust, .rjust:
            let arguments = try bind(self == .zfill ? ["width"] : ["width", "fillchar"])
            let width = try arguments.int(0) ?? 0
            let fill = self == .zfill ? "0" : try arguments.string(1) ?? " "
            let length = s.unicodeScalars.count
            guard width > length else { return .string(s) }
            try interpreter.charge(bytes: width * 4)
            let padding = width - length
            switch self {
            case .ljust: return .string(s + String(repeating: fill, count: padding))
            case .rjust: return .string(String(repeating: fill, count: padding) + s)
            case .center:
                let left = padding / 2 + (padding & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: padding - left))
            default:
                if let first = s.unicodeScalars.first, first == "+" || first == "-" {
                    return .string(String(first) + String(repeating: "0", count: padding) + String(s.unicodeScalars.dropFirst()))
                }
                return .string(String(repeating: "0", count: padding) + s)
            }
        case .removeprefix, .removesuffix:
            let affix = try bind(["affix"]).string(0) ?? ""
            let scalars = Array(s.unicodeScalars)
            let affixScalars = Array(affix.unicodeScalars)
            if self == .removeprefix, scalars.starts(with: affixScalars) {
                return .string(String(String.UnicodeScalarView(scalars.dropFirst(affixScalars.count))))
            }
            if self == .removesuffix, !affixScalars.isEmpty, scalars.reversed().starts(with: affixScalars.reversed()) {
                return .string(String(String.UnicodeScalarView(scalars.dropLast(affixScalars.count))))
            }
            return .string(s)
        }
    }
}
