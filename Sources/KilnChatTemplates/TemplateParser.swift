/// Recursive-descent parser for Jinja statements, following jinja2's `Parser` (the expression
/// grammar is in TemplateParser+Expressions.swift). Unknown tags, filters and tests are
/// errors here, at parse time, as they are when Jinja compiles a template.
struct TemplateParser {
    /// Nesting of blocks and of expressions. Deeper input is refused so that parsing and
    /// evaluation, both recursive, stay within the stack `ChatTemplate` runs them on.
    static let maxNesting = 64
    /// Height of an expression tree, which evaluation recurses through. Real templates stay
    /// under 15.
    static let maxExpressionDepth = 64

    let tokens: [TemplateToken]
    let source: [Unicode.Scalar]
    var index = 0
    var depth = 0
    /// How many `for` loops enclose the current position (for `break` / `continue`).
    var loopDepth = 0
    /// The blocks being parsed and the tags that may continue or close them, for messages.
    var openBlocks: [(opening: String, endNames: Set<String>)] = []

    init(tokens: [TemplateToken], source: [Unicode.Scalar]) {
        self.tokens = tokens
        self.source = source
    }

    static func parse(_ text: String) throws -> (nodes: [Node], source: [Unicode.Scalar]) {
        let (tokens, source) = try TemplateLexer.tokenize(text)
        var parser = TemplateParser(tokens: tokens, source: source)
        let nodes = try parser.subparse(until: [])
        guard case .eof = parser.current.kind else {
            throw parser.error("unexpected '\(parser.describe(parser.current))'")
        }
        return (nodes, source)
    }

    // MARK: Token stream

    var current: TemplateToken { tokens[index] }
    var next: TemplateToken { tokens[min(index + 1, tokens.count - 1)] }

    mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    func isName(_ name: String) -> Bool { if case .name(name) = current.kind { return true } else { return false } }
    func isOp(_ op: String) -> Bool { if case .op(op) = current.kind { return true } else { return false } }

    mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    mutating func skipOp(_ op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw error("expected '\(op)', got '\(describe(current))'") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let name) = current.kind else { throw error("expected a name, got '\(describe(current))'") }
        advance()
        return name
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw error("expected end of statement block, got '\(describe(current))'") }
        advance()
    }

    func describe(_ token: TemplateToken) -> String {
        switch token.kind {
        case .text: return "template text"
        case .variableBegin: return "{{"
        case .variableEnd: return "}}"
        case .blockBegin: return "{%"
        case .blockEnd: return "%}"
        case .name(let name): return name
        case .string(let value): return "'\(value)'"
        case .integer(let value): return String(value)
        case .float(let value): return String(value)
        case .op(let op): return op
        case .eof: return "end of template"
        }
    }

    func error(_ message: String, at offset: Int? = nil) -> ChatTemplateError {
        let (line, column) = SourcePosition.lineAndColumn(of: offset ?? current.offset, in: source)
        return ChatTemplateError(.syntax, message, line: line, column: column)
    }

    mutating func nest<T>(_ body: (inout TemplateParser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxNesting else { throw error("nested deeper than \(Self.maxNesting) levels") }
        return try body(&self)
    }

    // MARK: Statements

    /// Parses nodes until a block tag whose name is in `endNames` (left as the current token,
    /// just after its `{%`) or the end of the template.
    mutating func subparse(until endNames: Set<String>) throws -> [Node] {
        try nest { parser in
            var nodes: [Node] = []
            while true {
                switch parser.current.kind {
                case .eof:
                    return nodes
                case .text(let text):
                    nodes.append(.text(text))
                    parser.advance()
                case .variableBegin:
                    parser.advance()
                    let expr = try parser.parseTuple()
                    guard case .variableEnd = parser.current.kind else {
                        throw parser.error("expected end of print statement, got '\(parser.describe(parser.current))'")
                    }
                    parser.advance()
                    nodes.append(.output(expr))
                case .blockBegin:
                    parser.advance()
                    if case .name(let name) = parser.current.kind, endNames.contains(name) { return nodes }
                    nodes.append(contentsOf: try parser.parseStatement())
                default:
                    throw parser.error("unexpected '\(parser.describe(parser.current))'")
                }
            }
        }
    }

    /// Body of a block statement: `%}`, nodes up to one of `endNames`; leaves that name current.
    mutating func parseBody(until endNames: Set<String>, opening: String, at offset: Int) throws -> [Node] {
        try expectBlockEnd()
        openBlocks.append((opening, endNames))
        defer { openBlocks.removeLast() }
        let body = try subparse(until: endNames)
        guard case .name = current.kind else {
            let names = endNames.sorted().map { "'\($0)'" }.joined(separator: " or ")
            throw error("unexpected end of template: the '\(opening)' block needs \(names)", at: offset)
        }
        return body
    }

    /// After the end tag's name: consume it and the `%}`.
    mutating func closeBlock() throws {
        advance()
        try expectBlockEnd()
    }

    mutating func parseStatement() throws -> [Node] {
        let offset = current.offset
        guard case .name(let tag) = current.kind else { throw error("tag name expected") }
        advance()
        switch tag {
        case "if": return [try parseIf()]
        case "for": return [try parseFor(at: offset)]
        case "set": return [try parseSet(at: offset)]
        case "macro": return [try parseMacro(at: offset)]
        case "call": return [try parseCallBlock(at: offset)]
        case "filter": return [try parseFilterBlock(at: offset)]
        case "with": return [try parseWith(at: offset)]
        case "break", "continue":
            guard loopDepth > 0 else { throw error("'\(tag)' outside of a loop", at: offset) }
            try expectBlockEnd()
            return [tag == "break" ? .breakLoop(offset: offset) : .continueLoop(offset: offset)]
        case "generation":
            // transformers' `{% generation %}` marks assistant text for token masks; when
            // rendering it only outputs its body.
            let body = try parseBody(until: ["endgeneration"], opening: tag, at: offset)
            try closeBlock()
            return body
        case "include", "import", "from", "extends", "block":
            throw error("'\(tag)' is not supported in chat templates", at: offset)
        default:
            if let open = openBlocks.last {
                let names = open.endNames.sorted().map { "'\($0)'" }.joined(separator: " or ")
                throw error("unknown tag '\(tag)': the innermost open block is '\(open.opening)', which needs \(names)", at: offset)
            }
            throw error("unknown tag '\(tag)'", at: offset)
        }
    }

    mutating func parseIf() throws -> Node {
        var branches: [(test: Expr, body: [Node])] = []
        var otherwise: [Node] = []
        let offset = current.offset
        while true {
            let test = try parseTuple(withConditional: false)
            let body = try parseBody(until: ["elif", "else", "endif"], opening: "if", at: offset)
            branches.append((test, body))
            if skipName("elif") { continue }
            if skipName("else") {
                otherwise = try parseBody(until: ["endif"], opening: "if", at: offset)
            }
            try closeBlock()
            return .conditional(branches: branches, otherwise: otherwise)
        }
    }

    mutating func parseFor(at offset: Int) throws -> Node {
        let target = try parseAssignTarget(endNames: ["in"])
        guard skipName("in") else { throw error("expected 'in' in a for loop") }
        let iterable = try parseTuple(withConditional: false, endNames: ["recursive"])
        let condition = skipName("if") ? try parseExpression() : nil
        if isName("recursive") { throw error("recursive loops are not supported") }
        loopDepth += 1
        let body = try parseBody(until: ["endfor", "else"], opening: "for", at: offset)
        loopDepth -= 1
        var otherwise: [Node] = []
        if skipName("else") {
            otherwise = try parseBody(until: ["endfor"], opening: "for", at: offset)
        }
        try closeBlock()
        return .loop(Loop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, offset: offset))
    }

    mutating func parseSet(at offset: Int) throws -> Node {
        let target = try parseAssignTarget(allowNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, offset: offset)
        }
        let filters = try parseFilterChain(inline: isOp("|"))
        let body = try parseBody(until: ["endset"], opening: "set", at: offset)
        try closeBlock()
        return .setBlock(target, filters: filters, body: body, offset: offset)
    }

    mutating func parseMacro(at offset: Int) throws -> Node {
        let name = try expectName()
        let parameters = try parseSignature()
        let savedLoopDepth = loopDepth
        loopDepth = 0
        defer { loopDepth = savedLoopDepth }
        let body = try parseBody(until: ["endmacro"], opening: "macro", at: offset)
        try closeBlock()
        return .macro(Macro(name: name, parameters: parameters, body: body, offset: offset))
    }

    mutating func parseSignature() throws -> [Parameter] {
        try expectOp("(")
        var parameters: [Parameter] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectName()
            if skipOp("=") {
                parameters.append(Parameter(name: name, defaultValue: try parseExpression()))
            } else {
                if parameters.contains(where: { $0.defaultValue != nil }) {
                    throw error("non-default argument follows default argument")
                }
                parameters.append(Parameter(name: name, defaultValue: nil))
            }
        }
        try expectOp(")")
        return parameters
    }

    mutating func parseCallBlock(at offset: Int) throws -> Node {
        let parameters = isOp("(") ? try parseSignature() : []
        let call = try parseExpression()
        guard case .call = call.kind else { throw error("expected a call after 'call'", at: call.offset) }
        let body = try parseBody(until: ["endcall"], opening: "call", at: offset)
        try closeBlock()
        return .callBlock(call: call, callerParameters: parameters, body: body)
    }

    mutating func parseFilterBlock(at offset: Int) throws -> Node {
        let filters = try parseFilterChain(inline: true)
        let body = try parseBody(until: ["endfilter"], opening: "filter", at: offset)
        try closeBlock()
        return .filterBlock(filters, body: body)
    }

    mutating func parseWith(at offset: Int) throws -> Node {
        var assignments: [(AssignTarget, Expr)] = []
        while true {
            if case .blockEnd = current.kind { break }
            if !assignments.isEmpty { try expectOp(",") }
            let target = try parseAssignTarget()
            try expectOp("=")
            assignments.append((target, try parseExpression()))
        }
        let body = try parseBody(until: ["endwith"], opening: "with", at: offset)
        try closeBlock()
        return .with(assignments, body: body)
    }

    /// `name`, `a, b` or (for `set`) `ns.attr`.
    mutating func parseAssignTarget(allowNamespace: Bool = false, endNames: Set<String> = []) throws -> AssignTarget {
        let first = try expectName()
        if allowNamespace, skipOp(".") {
            return .namespaceAttribute(first, try expectName())
        }
        guard isOp(",") else { return .name(first) }
        var names = [first]
        while skipOp(",") {
            if case .name(let name) = current.kind, endNames.contains(name) { break }
            if isOp("=") { break }
            names.append(try expectName())
        }
        return .names(names)
    }
}
