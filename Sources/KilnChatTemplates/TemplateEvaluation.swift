import Foundation

/// Expression evaluation with Jinja's semantics under transformers' sandbox: Python
/// operators and truthiness, `a.b` trying the attribute before the item and `a[b]` the item
/// before the attribute, undefined values that only fail when used as objects.
extension Interpreter {
    /// Evaluates one node. Each kind has its own small function, so that a level of
    /// recursion costs little stack even in debug builds (a switch with every case's locals
    /// inline takes several KiB per level there).
    func evaluate(_ expr: Expr, _ frame: Frame) throws -> Value {
        try enter()
        defer { leave() }
        try step()
        offset = expr.offset
        // Cases bind nothing here: in debug builds every binding of every case would take
        // stack space in this frame; each helper binds only its own case.
        switch expr.kind {
        case .literal: return Self.constant(expr)
        case .name: return lookup(expr, frame)
        case .list, .tuple: return try evaluateList(expr, frame)
        case .dict: return try evaluateDict(expr, frame)
        case .attribute: return try evaluateAttribute(expr, frame)
        case .item: return try evaluateItem(expr, frame)
        case .slice: return try evaluateSlice(expr, frame)
        case .call: return try evaluateCall(expr, frame)
        case .filter: return try evaluateFilter(expr, frame)
        case .test: return try evaluateTest(expr, frame)
        case .unary: return try evaluateUnary(expr, frame)
        case .binary: return try evaluateBinary(expr, frame)
        case .concat: return try evaluateConcat(expr, frame)
        case .and, .or: return try evaluateLogical(expr, frame)
        case .compare: return try evaluateCompare(expr, frame)
        case .conditional: return try evaluateConditional(expr, frame)
        }
    }

    private static func constant(_ expr: Expr) -> Value {
        guard case .literal(let literal) = expr.kind else { return .none }
        switch literal {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        }
    }

    private func lookup(_ expr: Expr, _ frame: Frame) -> Value {
        guard case .name(let name) = expr.kind else { return .none }
        return frame.lookup(name) ?? TemplateGlobals.value(name) ?? .undefined(.name(name))
    }

    private func evaluateList(_ expr: Expr, _ frame: Frame) throws -> Value {
        switch expr.kind {
        case .list(let items): return try checkDepth(.list(try items.map { try evaluate($0, frame) }))
        case .tuple(let items): return try checkDepth(.tuple(try items.map { try evaluate($0, frame) }))
        default: return .none
        }
    }

    private func evaluateDict(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .dict(let pairs) = expr.kind else { return .none }
        var dict = ValueDict()
        for pair in pairs {
            let key = try evaluate(pair.key, frame)
            guard case .string(let name) = key else {
                offset = pair.key.offset
                throw RenderFailure.type("only string keys are supported in dict literals, not \(key.typeName)")
            }
            dict[name] = try evaluate(pair.value, frame)
        }
        return try checkDepth(.dict(dict))
    }

    private func evaluateAttribute(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .attribute(let base, let name) = expr.kind else { return .none }
        let value = try evaluate(base, frame)
        offset = expr.offset
        return try attribute(name, of: value)
    }

    private func evaluateItem(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .item(let base, let index) = expr.kind else { return .none }
        let value = try evaluate(base, frame)
        let key = try evaluate(index, frame)
        offset = expr.offset
        return try item(key, of: value)
    }

    private func evaluateSlice(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .slice(let base, let start, let stop, let step) = expr.kind else { return .none }
        let value = try evaluate(base, frame)
        let bounds = try [start, stop, step].map { try $0.map { try evaluate($0, frame) } }
        offset = expr.offset
        return try slice(value, bounds[0], bounds[1], bounds[2])
    }

    private func evaluateCall(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .call(let calleeExpr, let arguments) = expr.kind else { return .none }
        let callee = try evaluate(calleeExpr, frame)
        let (positional, keywords) = try evaluateArguments(arguments, frame)
        offset = expr.offset
        return try invoke(callee, positional, keywords)
    }

    private func evaluateFilter(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .filter(let base, let filter) = expr.kind else { return .none }
        return try applyFilter(filter, to: try evaluate(base, frame), frame)
    }

    private func evaluateTest(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .test(let base, let test) = expr.kind else { return .none }
        let value = try evaluate(base, frame)
        let (positional, keywords) = try evaluateArguments(test.arguments, frame)
        offset = expr.offset
        let result = try test.test.apply(to: value, positional, keywords, self)
        return .bool(result != test.negated)
    }

    private func evaluateUnary(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .unary(let op, let operand) = expr.kind else { return .none }
        let value = try evaluate(operand, frame)
        offset = expr.offset
        return try unary(op, value)
    }

    private func evaluateBinary(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .binary(let op, let left, let right) = expr.kind else { return .none }
        let a = try evaluate(left, frame)
        let b = try evaluate(right, frame)
        offset = expr.offset
        return try binary(op, a, b)
    }

    private func evaluateConcat(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .concat(let items) = expr.kind else { return .none }
        var text = ""
        for item in items {
            let piece = PythonText.str(try evaluate(item, frame))
            try charge(bytes: text.utf8.count + piece.utf8.count)
            text += piece
        }
        return .string(text)
    }

    /// `and` / `or` return an operand, as in Python (`'' or 'x'` is `'x'`).
    private func evaluateLogical(_ expr: Expr, _ frame: Frame) throws -> Value {
        switch expr.kind {
        case .and(let left, let right):
            let a = try evaluate(left, frame)
            return a.truthy ? try evaluate(right, frame) : a
        case .or(let left, let right):
            let a = try evaluate(left, frame)
            return a.truthy ? a : try evaluate(right, frame)
        default:
            return .none
        }
    }

    private func evaluateCompare(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .compare(let first, let operations) = expr.kind else { return .none }
        var left = try evaluate(first, frame)
        for (op, rightExpr) in operations {
            let right = try evaluate(rightExpr, frame)
            offset = expr.offset
            guard try compare(op, left, right) else { return .bool(false) }
            left = right
        }
        return .bool(true)
    }

    private func evaluateConditional(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard case .conditional(let test, let then, let otherwise) = expr.kind else { return .none }
        if try evaluate(test, frame).truthy { return try evaluate(then, frame) }
        guard let otherwise else {
            return .undefined(Undefined(hint: "the inline if-expression evaluated to false and no else section was defined"))
        }
        return try evaluate(otherwise, frame)
    }

    func evaluateArguments(_ arguments: Arguments, _ frame: Frame) throws -> ([Value], [(String, Value)]) {
        let positional = try arguments.positional.map { try evaluate($0, frame) }
        let keywords = try arguments.keywords.map { ($0.name, try evaluate($0.value, frame)) }
        return (positional, keywords)
    }

    func invoke(_ callee: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch callee {
        case .callable(let callable): return try callable.body(self, positional, keywords)
        case .undefined(let undefined): throw RenderFailure.undefined(undefined.hint)
        default: throw RenderFailure.type("'\(callee.typeName)' object is not callable")
        }
    }

    // MARK: Attributes and items

    /// `value.name`: Python attribute (a method) first, then the item, else undefined.
    func attribute(_ name: String, of value: Value) throws -> Value {
        switch value {
        case .undefined(let undefined):
            throw RenderFailure.undefined(undefined.hint)
        case .dict(let dict):
            if let method = PythonMethods.method(name, of: value) { return method }
            return dict[name] ?? .undefined(.attribute(name, of: value))
        case .namespace(let namespace):
            return namespace.attributes[name] ?? .undefined(.attribute(name, of: value))
        case .loop(let context):
            return context.attribute(name) ?? .undefined(.attribute(name, of: value))
        default:
            return PythonMethods.method(name, of: value) ?? .undefined(.attribute(name, of: value))
        }
    }

    /// `value[key]`: the item first, then (for a string key) the attribute, else undefined.
    func item(_ key: Value, of value: Value) throws -> Value {
        switch (value, key) {
        case (.undefined(let undefined), _):
            throw RenderFailure.undefined(undefined.hint)
        case (.dict(let dict), .string(let name)):
            if let item = dict[name] { return item }
        case (.list(let list), _) where list.isSequence:
            if let index = Self.integer(key) {
                let position = index < 0 ? index + list.items.count : index
                if list.items.indices.contains(position) { return list.items[position] }
                return .undefined(Undefined(hint: "list index out of range"))
            }
        case (.string(let s), _):
            if let index = Self.integer(key) {
                let scalars = s.unicodeScalars
                let count = scalars.count
                let position = index < 0 ? index + count : index
                guard (0..<count).contains(position) else { return .undefined(Undefined(hint: "string index out of range")) }
                return .string(String(scalars[scalars.index(scalars.startIndex, offsetBy: position)]))
            }
        default:
            break
        }
        if case .string(let name) = key { return try attribute(name, of: value) }
        return .undefined(Undefined(hint: "'\(value.typeName) object' has no element \(PythonText.repr(key))"))
    }

    static func integer(_ value: Value) -> Int? {
        switch value {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Python slicing of lists, tuples and strings (`messages[1:]`, `text[::-1]`).
    func slice(_ value: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            guard let i = Self.integer(v) else {
                if case .undefined(let u) = v { throw RenderFailure.undefined(u.hint) }
                throw RenderFailure.type("slice indices must be integers or None or have an __index__ method")
            }
            return i
        }
        let (a, b, c) = (try bound(start), try bound(stop), try bound(step))
        func indices(_ count: Int) throws -> [Int] {
            let step = c ?? 1
            guard step != 0 else { throw RenderFailure.value("slice step cannot be zero") }
            func adjust(_ i: Int?, _ absent: Int) -> Int {
                guard var i else { return absent }
                if i < 0 {
                    i += count
                    if i < 0 { i = step < 0 ? -1 : 0 }
                } else if i >= count {
                    i = step < 0 ? count - 1 : count
                }
                return i
            }
            var i = adjust(a, step < 0 ? count - 1 : 0)
            let end = adjust(b, step < 0 ? -1 : count)
            var result: [Int] = []
            while step > 0 ? i < end : i > end {
                result.append(i)
                i += step
            }
            return result
        }
        switch value {
        case .undefined(let undefined):
            throw RenderFailure.undefined(undefined.hint)
        case .list(let list) where list.isSequence:
            return .list(ValueList(try indices(list.items.count).map { list.items[$0] }, kind: list.kind))
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .dict:
            throw RenderFailure.type("unhashable type: 'slice'")
        default:
            // Jinja slices natively, without the undefined fallback of other lookups.
            throw RenderFailure.type("'\(value.typeName)' object is not subscriptable")
        }
    }
}
