/// Python's text behaviour, which decides what a template prints: `str()` and `repr()` of
/// values, float formatting, and the string methods templates call (`strip`, `split`,
/// `title`, …). Strings are indexed and counted in unicode scalars, as Python counts
/// characters.

/// Python's `str.isspace()`: Unicode White_Space plus the ASCII separators 0x1C–0x1F.
func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0D, 0x1C...0x20: return true
    case 0..<0x80: return false
    default: return c.properties.isWhitespace
    }
}

enum PythonText {
    // MARK: str() and repr()

    static func str(_ value: Value) -> String {
        switch value {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr(value)
        }
    }

    /// Past this nesting, `repr` prints "..." (only a namespace holding itself gets there:
    /// other values are bounded by `Interpreter.maxValueDepth`).
    static let maxReprDepth = 200

    static func repr(_ value: Value) -> String { repr(value, depth: 0) }

    private static func repr(_ value: Value, depth: Int) -> String {
        guard depth <= maxReprDepth else { return "..." }
        let inner = { (item: Value) in repr(item, depth: depth + 1) }
        switch value {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return float(d)
        case .string(let s): return quote(s)
        case .list(let list):
            let items = list.items
            switch list.kind {
            case .list: return "[" + items.map(inner).joined(separator: ", ") + "]"
            case .tuple: return items.count == 1 ? "(" + inner(items[0]) + ",)" : "(" + items.map(inner).joined(separator: ", ") + ")"
            // Python adds the object's address, which no output can match anyway.
            case .iterator(let name): return "<\(name)>"
            case .view(let name): return name + "([" + items.map(inner).joined(separator: ", ") + "])"
            }
        case .dict(let dict): return "{" + dict.pairs.map { quote($0.key) + ": " + inner($0.value) }.joined(separator: ", ") + "}"
        case .namespace(let ns): return "<Namespace " + inner(.dict(ns.attributes)) + ">"
        case .callable(let callable): return callable.isMacro ? "<Macro '\(callable.name)'>" : "<function \(callable.name)>"
        case .loop: return "<LoopContext>"
        }
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote.
    static func quote(_ s: String) -> String {
        let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case quote, "\\": out.append("\\"); out.append(c)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if isPrintable(c) { out.append(c) } else { out.append(contentsOf: hexEscape(c).unicodeScalars) }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// Python's `str.isprintable()`: not a control, format, private-use, unassigned or
    /// separator character (the ASCII space excepted).
    private static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hexEscape(_ c: Unicode.Scalar) -> String {
        let hex = String(c.value, radix: 16)
        let (prefix, width) = c.value < 0x100 ? ("\\x", 2) : c.value < 0x10000 ? ("\\u", 4) : ("\\U", 8)
        return prefix + String(repeating: "0", count: max(0, width - hex.count)) + hex
    }

    /// `repr(float)`: the shortest digits that round-trip (as Swift prints them), laid out
    /// the Python way: positional for exponents -4..<16 with a trailing ".0", otherwise
    /// `1e-05` / `1e+16`.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        let (negative, digits, exponent) = shortestDigits(d)
        let sign = negative ? "-" : ""
        // `exponent` is the position of the decimal point: value = 0.digits × 10^exponent.
        let decimalExponent = exponent - 1
        if decimalExponent >= -4 && decimalExponent < 16 {
            if exponent <= 0 {
                return sign + "0." + String(repeating: "0", count: -exponent) + digits
            }
            if exponent >= digits.count {
                return sign + digits + String(repeating: "0", count: exponent - digits.count) + ".0"
            }
            let split = digits.index(digits.startIndex, offsetBy: exponent)
            return sign + digits[..<split] + "." + digits[split...]
        }
        let mantissa = digits.count == 1 ? digits : String(digits.first!) + "." + digits.dropFirst()
        let magnitude = abs(decimalExponent)
        return sign + mantissa + "e" + (decimalExponent < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    /// Decimal digits (no leading/trailing zeros) and point position of Swift's shortest
    /// round-trip rendering.
    private static func shortestDigits(_ d: Double) -> (Bool, String, Int) {
        var text = "\(d.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fraction
        var point = integerPart.count + exponent
        while digits.first == "0", digits.count > 1 {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0", digits.count > 1 { digits.removeLast() }
        if digits == "0" { point = 1 }
        return (d.sign == .minus, digits, point)
    }

    // MARK: String methods

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let scalars = Array(s.unicodeScalars)
        let set = chars.map { Set($0.unicodeScalars) }
        let strips: (Unicode.Scalar) -> Bool = { set?.contains($0) ?? isPythonSpace($0) }
        var start = 0
        var end = scalars.count
        if leading { while start < end, strips(scalars[start]) { start += 1 } }
        if trailing { while end > start, strips(scalars[end - 1]) { end -= 1 } }
        if start == 0, end == scalars.count { return s }
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    /// `str.split(None, maxsplit)`: runs of whitespace split and the ends are dropped.
    static func split(_ s: String, maxSplit: Int) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var parts: [String] = []
        func part(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(scalars[a..<b])) }
        var i = 0
        while i < scalars.count {
            while i < scalars.count, isPythonSpace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            if maxSplit >= 0, parts.count == maxSplit {
                var end = scalars.count
                while end > i, isPythonSpace(scalars[end - 1]) { end -= 1 }
                parts.append(part(i, end))
                return parts
            }
            let start = i
            while i < scalars.count, !isPythonSpace(scalars[i]) { i += 1 }
            parts.append(part(start, i))
        }
        return parts
    }

    /// `str.rsplit(None, maxsplit)`.
    static func rsplitWhitespace(_ s: String, maxSplit: Int) -> [String] {
        let reversed = String(String.UnicodeScalarView(s.unicodeScalars.reversed()))
        return split(reversed, maxSplit: maxSplit).reversed().map { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) }
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool {
        c.properties.isLowercase || c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter
    }

    /// `str.title()`: a cased character after an uncased one starts a word (so "they're"
    /// becomes "They'Re", as in Python).
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            if isCased(c) {
                out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
                previousCased = true
            } else {
                out.unicodeScalars.append(c)
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: words start after whitespace or one of `-({[<`.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let separator = isPythonSpace(c) || "-({[<".unicodeScalars.contains(c)
            if separator {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
                atWordStart = false
            }
        }
        return out
    }

    /// `str.capitalize()`: first character title case, the rest lower case.
    static func capitalize(_ s: String) -> String {
        var out = ""
        for (i, c) in s.unicodeScalars.enumerated() {
            out += i == 0 ? c.properties.titlecaseMapping : c.properties.lowercaseMapping
        }
        return out
    }
}
