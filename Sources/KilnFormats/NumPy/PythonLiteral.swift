import KilnCore

/// The Python literals an `.npy` header is written in (`numpy.lib.format` writes the header
/// with `repr` and reads it with `ast.literal_eval`): dicts, tuples, lists, strings, ints,
/// True/False/None. Parsed here without evaluating anything, with a nesting limit.
indirect enum PythonLiteral {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    /// Entries in the order written.
    case dict([PythonDictEntry])

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .int: return "an int"
        case .bool: return "a bool"
        case .none: return "None"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        }
    }
}

struct PythonDictEntry {
    let key: String
    let value: PythonLiteral
}

struct PythonLiteralParser {
    static let maxDepth = 16
    let scalars: [Unicode.Scalar]
    /// File offset of the text, for errors (offsets count scalars, which equal bytes for latin-1 headers).
    let baseOffset: UInt64
    var index = 0

    init(_ text: String, baseOffset: UInt64) {
        scalars = Array(text.unicodeScalars)
        self.baseOffset = baseOffset
    }

    func fail(_ message: String) -> KilnError {
        KilnError.malformed("header: \(message)", at: baseOffset + UInt64(index), "npy header")
    }

    mutating func parseDocument() throws -> PythonLiteral {
        let value = try parse(depth: 0)
        skipSpace()
        guard index == scalars.count else { throw fail("unexpected text after the header dict") }
        return value
    }

    mutating func skipSpace() {
        while index < scalars.count, [" ", "\n", "\t", "\r"].contains(scalars[index]) { index += 1 }
    }

    mutating func parse(depth: Int) throws -> PythonLiteral {
        guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth) levels") }
        skipSpace()
        guard index < scalars.count else { throw fail("unexpected end") }
        let c = scalars[index]
        switch c {
        case "{":
            index += 1
            var entries: [PythonDictEntry] = []
            while true {
                skipSpace()
                if index < scalars.count, scalars[index] == "}" { index += 1; return .dict(entries) }
                guard case .string(let key) = try parse(depth: depth + 1) else { throw fail("dict keys must be strings") }
                guard !entries.contains(where: { $0.key == key }) else { throw fail("duplicate key '\(key)'") }
                skipSpace()
                guard index < scalars.count, scalars[index] == ":" else { throw fail("expected ':' after key '\(key)'") }
                index += 1
                entries.append(PythonDictEntry(key: key, value: try parse(depth: depth + 1)))
                guard try separator(closing: "}") else { index += 1; return .dict(entries) }
            }
        case "(", "[":
            index += 1
            let closing: Unicode.Scalar = c == "(" ? ")" : "]"
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipSpace()
                if index < scalars.count, scalars[index] == closing { index += 1; break }
                items.append(try parse(depth: depth + 1))
                if try separator(closing: closing) { sawComma = true } else { index += 1; break }
            }
            // `(3)` is the int 3 in Python, not a tuple; `(3,)` is a tuple.
            if c == "(", items.count == 1, !sawComma { return items[0] }
            return c == "(" ? .tuple(items) : .list(items)
        case "'", "\"":
            return .string(try parseString(quote: c))
        default:
            return try parseWord()
        }
    }

    /// After an item: true on a comma (more may follow), false at the closing bracket (not consumed).
    mutating func separator(closing: Unicode.Scalar) throws -> Bool {
        skipSpace()
        guard index < scalars.count else { throw fail("unterminated container") }
        if scalars[index] == "," { index += 1; return true }
        guard scalars[index] == closing else { throw fail("expected ',' or '\(closing)'") }
        return false
    }

    mutating func parseString(quote: Unicode.Scalar) throws -> String {
        index += 1
        var result = String.UnicodeScalarView()
        while index < scalars.count {
            let c = scalars[index]
            index += 1
            if c == quote { return String(result) }
            if c == "\\" {
                guard index < scalars.count else { break }
                let e = scalars[index]
                index += 1
                switch e {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "\\", "'", "\"": result.append(e)
                default: throw fail("unsupported escape '\\\(e)' in a string")
                }
                continue
            }
            result.append(c)
        }
        throw fail("unterminated string")
    }

    mutating func parseWord() throws -> PythonLiteral {
        let start = index
        while index < scalars.count, scalars[index].properties.isAlphabetic || ("0"..."9").contains(scalars[index]) || scalars[index] == "-" || scalars[index] == "_" {
            index += 1
        }
        var word = String(String.UnicodeScalarView(scalars[start..<index]))
        switch word {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        default:
            if word.hasSuffix("L") { word.removeLast() } // Python 2 longs: (3L, 4L)
            guard let value = Int64(word) else {
                index = start
                throw fail(word.isEmpty ? "unexpected character '\(scalars[start])'" : "'\(word.prefix(30))' is not a literal Kiln reads (or an integer beyond 64 bits)")
            }
            return .int(value)
        }
    }
}
