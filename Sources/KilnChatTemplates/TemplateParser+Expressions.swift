/// Jinja's expression grammar, loosest binding first:
/// conditional (`a if b else c`) < `or` < `and` < `not` < comparisons and `in`
/// < `+ -` < `~` < `* / // %` < `**` < unary `- +` < primary with postfix `.x [i] (args)`,
/// then filters `|f` and tests `is t`. Filters bind tighter than every binary operator, so
/// `message['content'] | trim + '<|eot_id|>'` trims only the content.
extension TemplateParser {
    /// `{{ a, b }}` and `set x = a, b` make a tuple; otherwise a single expression.
    mutating func parseTuple(withConditional: Bool = true, endNames: Set<String> = []) throws -> Expr {
        let offset = current.offset
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(endNames) { break }
            items.append(withConditional ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            guard let only = items.first else { throw error("expected an expression, got '\(describe(current))'") }
            return only
        }
        return try make(.tuple(items), offset: offset)
    }

    /// A node, refused when the tree below it is higher than `maxExpressionDepth`.
    func make(_ kind: Expr.Kind, offset: Int) throws -> Expr {
        let expr = Expr(kind: kind, offset: offset)
        guard expr.depth <= Self.maxExpressionDepth else {
            throw error("expression nested deeper than \(Self.maxExpressionDepth) levels", at: offset)
        }
        return expr
    }

    func isTupleEnd(_ endNames: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(let op): return op == ")"
        case .name(let name): return endNames.contains(name)
        default: return false
        }
    }

    mutating func parseExpression() throws -> Expr {
        try nest { try $0.parseConditional() }
    }

    mutating func parseConditional() throws -> Expr {
        var expr = try parseOr()
        while isName("if") {
            let offset = current.offset
            advance()
            let test = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expr = try make(.conditional(test: test, then: expr, otherwise: otherwise), offset: offset)
        }
        return expr
    }

    mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while isName("or") {
            let offset = current.offset
            advance()
            let right = try parseAnd()
            left = try make(.or(left, right), offset: offset)
        }
        return left
    }

    mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while isName("and") {
            let offset = current.offset
            advance()
            let right = try parseNot()
            left = try make(.and(left, right), offset: offset)
        }
        return left
    }

    mutating func parseNot() throws -> Expr {
        guard isName("not") else { return try parseCompare() }
        let offset = current.offset
        advance()
        return try nest { parser in
            let operand = try parser.parseNot()
            return try parser.make(.unary(.not, operand), offset: offset)
        }
    }

    mutating func parseCompare() throws -> Expr {
        let offset = current.offset
        let first = try parseMath1()
        var operations: [(CompareOperator, Expr)] = []
        while true {
            if case .op(let op) = current.kind, let compare = CompareOperator(rawValue: op), compare != .in, compare != .notIn {
                advance()
                operations.append((compare, try parseMath1()))
            } else if skipName("in") {
                operations.append((.in, try parseMath1()))
            } else if isName("not"), case .name("in") = next.kind {
                advance()
                advance()
                operations.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? first : try make(.compare(first, operations), offset: offset)
    }

    mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            let offset = current.offset
            advance()
            let right = try parseConcat()
            left = try make(.binary(op == "+" ? .add : .subtract, left, right), offset: offset)
        }
        return left
    }

    mutating func parseConcat() throws -> Expr {
        let offset = current.offset
        var items = [try parseMath2()]
        while skipOp("~") { items.append(try parseMath2()) }
        return items.count == 1 ? items[0] : try make(.concat(items), offset: offset)
    }

    mutating func parseMath2() throws -> Expr {
        var left = try parsePower()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            let offset = current.offset
            advance()
            let right = try parsePower()
            left = try make(.binary(BinaryOperator(rawValue: op)!, left, right), offset: offset)
        }
        return left
    }

    mutating func parsePower() throws -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            let offset = current.offset
            advance()
            let right = try parseUnary()
            left = try make(.binary(.power, left, right), offset: offset)
        }
        return left
    }

    mutating func parseUnary(withFilters: Bool = true) throws -> Expr {
        let offset = current.offset
        var expr: Expr
        if isOp("-") || isOp("+") {
            let negate = isOp("-")
            advance()
            let operand = try nest { try $0.parseUnary(withFilters: false) }
            expr = try make(.unary(negate ? .negate : .plus, operand), offset: offset)
        } else {
            expr = try parsePrimary()
        }
        expr = try parsePostfix(expr)
        if withFilters { expr = try parseFilterExpression(expr) }
        return expr
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let name):
            advance()
            switch name {
            case "true", "True": return try make(.literal(.bool(true)), offset: token.offset)
            case "false", "False": return try make(.literal(.bool(false)), offset: token.offset)
            case "none", "None": return try make(.literal(.none), offset: token.offset)
            default: return try make(.name(name), offset: token.offset)
            }
        case .string(var value):
            advance()
            // Adjacent literals concatenate, as in Python.
            while case .string(let more) = current.kind {
                value += more
                advance()
            }
            return try make(.literal(.string(value)), offset: token.offset)
        case .integer(let value):
            advance()
            return try make(.literal(.int(value)), offset: token.offset)
        case .float(let value):
            advance()
            return try make(.literal(.double(value)), offset: token.offset)
        case .op("("):
            advance()
            let expr = try nest { parser -> Expr in
                if parser.isOp(")") { return try parser.make(.tuple([]), offset: token.offset) }
                return try parser.parseTuple()
            }
            try expectOp(")")
            return expr
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return try make(.list(items), offset: token.offset)
        case .op("{"):
            advance()
            var pairs: [(key: Expr, value: Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            try expectOp("}")
            return try make(.dict(pairs), offset: token.offset)
        default:
            throw error("unexpected '\(describe(token))'")
        }
    }

    mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var expr = base
        while true {
            if isOp(".") || isOp("[") {
                expr = try parseSubscript(expr)
            } else if isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    mutating func parseFilterExpression(_ base: Expr) throws -> Expr {
        var expr = base
        while true {
            if isOp("|") {
                for filter in try parseFilterChain(inline: false) { expr = try make(.filter(expr, filter), offset: filter.offset) }
            } else if isName("is") {
                expr = try parseTest(expr)
            } else if isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    mutating func parseSubscript(_ base: Expr) throws -> Expr {
        let offset = current.offset
        if skipOp(".") {
            switch current.kind {
            case .name(let name):
                advance()
                return try make(.attribute(base, name), offset: offset)
            case .integer(let value):
                advance()
                return try make(.item(base, try make(.literal(.int(value)), offset: offset)), offset: offset)
            default:
                throw error("expected a name or number after '.'")
            }
        }
        try expectOp("[")
        var subscripts: [Expr] = []
        while !isOp("]") {
            if !subscripts.isEmpty { try expectOp(",") }
            subscripts.append(try parseSubscribed(base, at: offset))
        }
        try expectOp("]")
        guard subscripts.count == 1 else {
            return try make(.item(base, try make(.tuple(subscripts), offset: offset)), offset: offset)
        }
        if case .slice = subscripts[0].kind { return subscripts[0] }
        return try make(.item(base, subscripts[0]), offset: offset)
    }

    /// An index or a `start:stop:step` slice (returned already applied to `base`).
    mutating func parseSubscribed(_ base: Expr, at offset: Int) throws -> Expr {
        var start: Expr?
        if !isOp(":") {
            let expr = try parseExpression()
            guard isOp(":") else { return expr }
            start = expr
        }
        advance()
        var stop: Expr?
        var step: Expr?
        if !isOp("]"), !isOp(","), !isOp(":") { stop = try parseExpression() }
        if skipOp(":"), !isOp("]"), !isOp(",") { step = try parseExpression() }
        return try make(.slice(base, start: start, stop: stop, step: step), offset: offset)
    }

    mutating func parseCall(_ callee: Expr) throws -> Expr {
        let offset = current.offset
        let arguments = try parseArguments()
        return try make(.call(callee, arguments), offset: offset)
    }

    mutating func parseArguments() throws -> Arguments {
        try expectOp("(")
        var arguments = Arguments()
        while !isOp(")") {
            if !arguments.positional.isEmpty || !arguments.keywords.isEmpty {
                try expectOp(",")
                if isOp(")") { break }
            }
            if isOp("*") || isOp("**") { throw error("*args and **kwargs in calls are not supported") }
            if case .name(let name) = current.kind, case .op("=") = next.kind {
                advance()
                advance()
                arguments.keywords.append((name, try parseExpression()))
            } else {
                guard arguments.keywords.isEmpty else { throw error("positional argument follows keyword argument") }
                arguments.positional.append(try parseExpression())
            }
        }
        try expectOp(")")
        return arguments
    }

    /// `|name(args)` repeated; with `inline`, the first filter has no leading `|`
    /// (`{% filter upper %}`).
    mutating func parseFilterChain(inline: Bool) throws -> [FilterCall] {
        var filters: [FilterCall] = []
        var first = inline
        while first || isOp("|") {
            if !first { advance() }
            first = false
            let offset = current.offset
            let name = try expectName()
            guard let filter = TemplateFilter(name: name) else { throw error("no filter named '\(name)'", at: offset) }
            let arguments = isOp("(") ? try parseArguments() : Arguments()
            filters.append(FilterCall(filter: filter, name: name, arguments: arguments, offset: offset))
        }
        return filters
    }

    mutating func parseTest(_ base: Expr) throws -> Expr {
        let offset = current.offset
        advance()
        let negated = skipName("not")
        let nameOffset = current.offset
        let name = try expectName()
        guard let test = TemplateTest(name: name) else { throw error("no test named '\(name)'", at: nameOffset) }
        var arguments = Arguments()
        if isOp("(") {
            arguments = try parseArguments()
        } else if startsTestArgument() {
            // `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
            if isName("is") { throw error("tests cannot be chained with 'is'") }
            let primary = try parsePrimary()
            arguments.positional = [try parsePostfix(primary)]
        }
        return try make(.test(base, TestCall(test: test, name: name, arguments: arguments, negated: negated)), offset: offset)
    }

    func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let name): return !["else", "or", "and"].contains(name)
        case .string, .integer, .float: return true
        case .op(let op): return op == "(" || op == "[" || op == "{"
        default: return false
        }
    }
}
