/// A lexical token of a template, positioned by its offset in unicode scalars from the start
/// of the (newline-normalized) source.
struct TemplateToken {
    enum Kind: Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }

    let kind: Kind
    let offset: Int
}

/// Splits template source into text and tag tokens the way Jinja's lexer does under the
/// environment transformers uses (`trim_blocks=True`, `lstrip_blocks=True`): the whitespace
/// rules decide every newline of a rendered prompt, so they follow jinja2 3.1 exactly:
/// - one trailing newline of the whole source is dropped (`keep_trailing_newline=False`) and
///   `\r\n` / `\r` become `\n`;
/// - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` all after;
/// - `%}` and `#}` eat one following `\n` (trim_blocks), `}}` does not; `+%}` keeps it;
/// - a `{%` or `{#` tag preceded on its line only by spaces and tabs takes that indentation
///   away (lstrip_blocks), unless written `{%+`; `{{` never does.
struct TemplateLexer {
    static let maxSourceScalars = 4 << 20

    let source: [Unicode.Scalar]
    private var position = 0
    private var tokens: [TemplateToken] = []
    /// Whether the previous match ended with a newline (Jinja's `line_starting`), needed for
    /// lstrip of a tag right after a trimmed newline.
    private var lineStarting = true

    init(_ text: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var iterator = text.unicodeScalars.makeIterator()
        var pending = iterator.next()
        while let scalar = pending {
            pending = iterator.next()
            if scalar == "\r" {
                scalars.append("\n")
                if pending == "\n" { pending = iterator.next() }
            } else {
                scalars.append(scalar)
            }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        source = scalars
    }

    static func tokenize(_ text: String) throws -> (tokens: [TemplateToken], source: [Unicode.Scalar]) {
        var lexer = TemplateLexer(text)
        guard lexer.source.count <= maxSourceScalars else {
            throw ChatTemplateError(.syntax, "the template is longer than \(maxSourceScalars) characters")
        }
        try lexer.run()
        return (lexer.tokens, lexer.source)
    }

    private enum TagKind { case variable, block, comment }

    private mutating func run() throws {
        let count = source.count
        while position < count {
            guard let (start, kind) = nextTagStart(from: position) else {
                emitText(position, count)
                position = count
                break
            }
            var cursor = start + 2
            var sign: Unicode.Scalar?
            if cursor < count, source[cursor] == "-" || source[cursor] == "+" {
                sign = source[cursor]
                cursor += 1
            }
            var textEnd = start
            if sign == "-" {
                while textEnd > position, isPythonSpace(source[textEnd - 1]) { textEnd -= 1 }
            } else if sign != "+", kind != .variable {
                textEnd = lstripEnd(textStart: position, tagStart: start)
            }
            emitText(position, textEnd)
            lineStarting = false
            if kind == .block, let rawEnd = rawBeginEnd(at: cursor) {
                try lexRaw(from: rawEnd, tagStart: start)
                continue
            }
            switch kind {
            case .comment: try lexComment(from: cursor, tagStart: start)
            case .variable, .block: try lexTag(kind, from: cursor, tagStart: start)
            }
        }
        tokens.append(TemplateToken(kind: .eof, offset: count))
    }

    private func nextTagStart(from index: Int) -> (Int, TagKind)? {
        var i = index
        while i + 1 < source.count {
            if source[i] == "{" {
                switch source[i + 1] {
                case "{": return (i, .variable)
                case "%": return (i, .block)
                case "#": return (i, .comment)
                default: break
                }
            }
            i += 1
        }
        return nil
    }

    /// Where the text before a block or comment tag ends after lstrip_blocks: the spaces and
    /// tabs between the last newline (or a line start) and the tag are dropped.
    private func lstripEnd(textStart: Int, tagStart: Int) -> Int {
        var lineStart = tagStart
        while lineStart > textStart, source[lineStart - 1] != "\n" { lineStart -= 1 }
        let afterNewline = lineStart > textStart
        guard afterNewline || lineStarting, lineStart < tagStart else { return tagStart }
        for i in lineStart..<tagStart where !isPythonSpace(source[i]) { return tagStart }
        return lineStart
    }

    private mutating func emitText(_ start: Int, _ end: Int) {
        guard start < end else { return }
        tokens.append(TemplateToken(kind: .text(String(String.UnicodeScalarView(source[start..<end]))), offset: start))
    }

    /// After the tag start and sign: `\s*raw\s*` then `-%}` or `%}`. Returns the index after it.
    private func rawBeginEnd(at index: Int) -> Int? {
        var i = skipSpaces(index)
        guard matches("raw", at: i) else { return nil }
        i = skipSpaces(i + 3)
        if matches("-%}", at: i) { return skipSpaces(i + 3) }
        if matches("%}", at: i) { return i + 2 }
        return nil
    }

    private mutating func lexRaw(from contentStart: Int, tagStart: Int) throws {
        var i = contentStart
        while let (start, kind) = nextTagStart(from: i) {
            var cursor = start + 2
            var sign: Unicode.Scalar?
            if kind == .block, cursor < source.count, source[cursor] == "-" || source[cursor] == "+" {
                sign = source[cursor]
                cursor += 1
            }
            cursor = skipSpaces(cursor)
            guard kind == .block, matches("endraw", at: cursor) else { i = start + 1; continue }
            cursor = skipSpaces(cursor + 6)
            guard let (end, endsWithNewline) = blockEnd(at: cursor) else { i = start + 1; continue }
            var textEnd = start
            if sign == "-" {
                while textEnd > contentStart, isPythonSpace(source[textEnd - 1]) { textEnd -= 1 }
            } else if sign != "+" {
                textEnd = lstripEnd(textStart: contentStart, tagStart: start)
            }
            emitText(contentStart, textEnd)
            position = end
            lineStarting = endsWithNewline
            return
        }
        throw syntaxError("missing end of raw directive", at: tagStart)
    }

    /// `+%}`, `-%}` plus all following whitespace, or `%}` plus one newline (trim_blocks).
    private func blockEnd(at i: Int) -> (end: Int, endsWithNewline: Bool)? {
        if matches("+%}", at: i) { return (i + 3, false) }
        if matches("-%}", at: i) {
            let end = skipSpaces(i + 3)
            return (end, end > i + 3 && source[end - 1] == "\n")
        }
        if matches("%}", at: i) {
            if i + 2 < source.count, source[i + 2] == "\n" { return (i + 3, true) }
            return (i + 2, false)
        }
        return nil
    }

    private mutating func lexComment(from index: Int, tagStart: Int) throws {
        var i = index
        while i < source.count {
            if source[i] == "+" || source[i] == "-", matches("#}", at: i + 1) {
                position = source[i] == "+" ? i + 3 : skipSpaces(i + 3)
                lineStarting = source[i] == "-" && position > i + 3 && source[position - 1] == "\n"
                return
            }
            if matches("#}", at: i) {
                position = i + 2
                lineStarting = false
                if position < source.count, source[position] == "\n" {
                    position += 1
                    lineStarting = true
                }
                return
            }
            i += 1
        }
        throw syntaxError("missing end of comment tag", at: tagStart)
    }

    private mutating func lexTag(_ kind: TagKind, from index: Int, tagStart: Int) throws {
        tokens.append(TemplateToken(kind: kind == .block ? .blockBegin : .variableBegin, offset: tagStart))
        var i = index
        // Brackets must balance before an end delimiter counts, so `{{ {'a': 1}}}` works.
        var balance: [Unicode.Scalar] = []
        while true {
            guard i < source.count else {
                throw syntaxError("unexpected end of template inside a \(kind == .block ? "{% %}" : "{{ }}") tag", at: tagStart)
            }
            if balance.isEmpty {
                if kind == .block, let (end, newline) = blockEnd(at: i) {
                    tokens.append(TemplateToken(kind: .blockEnd, offset: i))
                    position = end
                    lineStarting = newline
                    return
                }
                if kind == .variable {
                    if matches("-}}", at: i) {
                        tokens.append(TemplateToken(kind: .variableEnd, offset: i))
                        position = skipSpaces(i + 3)
                        lineStarting = position > i + 3 && source[position - 1] == "\n"
                        return
                    }
                    if matches("}}", at: i) {
                        tokens.append(TemplateToken(kind: .variableEnd, offset: i))
                        position = i + 2
                        lineStarting = false
                        return
                    }
                }
            }
            let c = source[i]
            if isPythonSpace(c) { i += 1; continue }
            if let (token, end) = try number(at: i) {
                tokens.append(token)
                i = end
                continue
            }
            if isIdentifierStart(c) {
                var end = i + 1
                while end < source.count, isIdentifierContinue(source[end]) { end += 1 }
                tokens.append(TemplateToken(kind: .name(String(String.UnicodeScalarView(source[i..<end]))), offset: i))
                i = end
                continue
            }
            if c == "'" || c == "\"" {
                let (value, end) = try stringLiteral(at: i)
                tokens.append(TemplateToken(kind: .string(value), offset: i))
                i = end
                continue
            }
            guard let op = self.op(at: i) else {
                throw syntaxError("unexpected character '\(c)'", at: i)
            }
            switch op {
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "{": balance.append("}")
            case ")", "]", "}":
                guard let expected = balance.popLast() else { throw syntaxError("unexpected '\(op)'", at: i) }
                guard String(expected) == op else { throw syntaxError("unexpected '\(op)', expected '\(expected)'", at: i) }
            default: break
            }
            tokens.append(TemplateToken(kind: .op(op), offset: i))
            i += op.unicodeScalars.count
        }
    }

    private static let twoCharacterOperators: Set<String> = ["//", "**", "==", "!=", ">=", "<="]
    private static let operatorCharacters: Set<Unicode.Scalar> = [
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ]

    private func op(at i: Int) -> String? {
        if i + 1 < source.count {
            let pair = String(source[i]) + String(source[i + 1])
            if Self.twoCharacterOperators.contains(pair) { return pair }
        }
        return Self.operatorCharacters.contains(source[i]) ? String(source[i]) : nil
    }

    private func skipSpaces(_ index: Int) -> Int {
        var i = index
        while i < source.count, isPythonSpace(source[i]) { i += 1 }
        return i
    }

    private func matches(_ text: String, at index: Int) -> Bool {
        var i = index
        for scalar in text.unicodeScalars {
            guard i < source.count, source[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    func syntaxError(_ message: String, at offset: Int) -> ChatTemplateError {
        let (line, column) = SourcePosition.lineAndColumn(of: offset, in: source)
        return ChatTemplateError(.syntax, message, line: line, column: column)
    }
}

enum SourcePosition {
    /// 1-based line and column (in characters as Python counts them: unicode scalars).
    static func lineAndColumn(of offset: Int, in source: [Unicode.Scalar]) -> (Int, Int) {
        var line = 1
        var lineStart = 0
        for i in 0..<min(offset, source.count) where source[i] == "\n" {
            line += 1
            lineStart = i + 1
        }
        return (line, offset - lineStart + 1)
    }
}

/// An ASCII digit (Jinja's numbers are ASCII).
/// An ASCII digit: Jinja's numbers are ASCII.
func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

private func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
    c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || (c.value > 0x7F && c.properties.isXIDStart)
}

private func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
    isIdentifierStart(c) || isDigit(c) || (c.value > 0x7F && c.properties.isXIDContinue)
}
