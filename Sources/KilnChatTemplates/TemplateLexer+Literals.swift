/// Number and string literals inside tags, as Jinja's lexer reads them.
extension TemplateLexer {
    /// Jinja's integer (decimal with `_`, 0b, 0o, 0x) and float (needs a fraction or an
    /// exponent; not right after a `.`, so `a.0.1` is item 0 then 1) literals.
    func number(at i: Int) throws -> (TemplateToken, Int)? {
        guard isDigit(source[i]) else { return nil }
        if i > 0, source[i - 1] == "." { return try integer(at: i) }
        var end = digits(from: i)
        var isFloat = false
        if end + 1 < source.count, source[end] == ".", isDigit(source[end + 1]) {
            end = digits(from: end + 1)
            isFloat = true
        }
        if end < source.count, source[end] == "e" || source[end] == "E" {
            var e = end + 1
            if e < source.count, source[e] == "+" || source[e] == "-" { e += 1 }
            if e < source.count, isDigit(source[e]) {
                end = digits(from: e)
                isFloat = true
            }
        }
        if isFloat {
            let text = String(String.UnicodeScalarView(source[i..<end]).filter { $0 != "_" })
            guard let value = Double(text) else { throw syntaxError("invalid number '\(text)'", at: i) }
            return (TemplateToken(kind: .float(value), offset: i), end)
        }
        return try integer(at: i)
    }

    func integer(at i: Int) throws -> (TemplateToken, Int) {
        if source[i] == "0", i + 2 < source.count {
            let radixes: [Unicode.Scalar: Int] = ["b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16]
            if let radix = radixes[source[i + 1]] {
                var end = i + 2
                var text = ""
                while end < source.count {
                    let c = source[end]
                    if c == "_" { end += 1; continue }
                    guard let digit = Int(String(c), radix: radix), digit < radix else { break }
                    text.unicodeScalars.append(c)
                    end += 1
                }
                if !text.isEmpty, let value = Int(text, radix: radix) {
                    return (TemplateToken(kind: .integer(value), offset: i), end)
                }
            }
        }
        if source[i] == "0" {
            // "0", "0_0": a decimal zero; "012" lexes as 0 then 12, as in Jinja.
            var end = i + 1
            while end + 1 < source.count, source[end] == "_", source[end + 1] == "0" { end += 2 }
            while end < source.count, source[end] == "0" { end += 1 }
            return (TemplateToken(kind: .integer(0), offset: i), end)
        }
        let end = digits(from: i)
        let text = String(String.UnicodeScalarView(source[i..<end]).filter { $0 != "_" })
        // Python integers have no bound; an integer beyond 64 bits is refused rather than wrapped.
        guard let value = Int(text) else { throw syntaxError("integer literal \(text) does not fit 64 bits", at: i) }
        return (TemplateToken(kind: .integer(value), offset: i), end)
    }

    func digits(from index: Int) -> Int {
        var end = index
        while end < source.count {
            if isDigit(source[end]) { end += 1; continue }
            if source[end] == "_", end + 1 < source.count, isDigit(source[end + 1]) { end += 1; continue }
            break
        }
        return end
    }

    /// A quoted string with Python's `unicode-escape` decoding, as Jinja applies it.
    func stringLiteral(at start: Int) throws -> (String, Int) {
        let quote = source[start]
        var scalars = String.UnicodeScalarView()
        var i = start + 1
        while i < source.count {
            let c = source[i]
            if c == quote { return (String(scalars), i + 1) }
            guard c == "\\" else {
                scalars.append(c)
                i += 1
                continue
            }
            guard i + 1 < source.count else { break }
            let e = source[i + 1]
            i += 2
            switch e {
            case "\n": break  // line continuation
            case "\\", "'", "\"": scalars.append(e)
            case "a": scalars.append("\u{07}")
            case "b": scalars.append("\u{08}")
            case "f": scalars.append("\u{0C}")
            case "n": scalars.append("\n")
            case "r": scalars.append("\r")
            case "t": scalars.append("\t")
            case "v": scalars.append("\u{0B}")
            case "0"..."7":
                var value = e.value - 48
                var taken = 1
                while taken < 3, i < source.count, ("0"..."7").contains(source[i]) {
                    value = value * 8 + source[i].value - 48
                    i += 1
                    taken += 1
                }
                scalars.append(Unicode.Scalar(value)!)
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                guard i + width <= source.count,
                      let value = UInt32(String(String.UnicodeScalarView(source[i..<i + width])), radix: 16)
                else { throw syntaxError("truncated \\\(e) escape in a string", at: i - 2) }
                guard let scalar = Unicode.Scalar(value) else {
                    throw syntaxError("\\\(e) escape is not a unicode scalar (surrogates cannot be represented)", at: i - 2)
                }
                scalars.append(scalar)
                i += width
            case "N": throw syntaxError("\\N{…} escapes are not supported", at: i - 2)
            default:
                // Python keeps unknown escapes as written.
                scalars.append("\\")
                scalars.append(e)
            }
        }
        throw syntaxError("unterminated string", at: start)
    }
}
