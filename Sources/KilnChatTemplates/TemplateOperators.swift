import Foundation

/// Python's operators as Jinja applies them: arithmetic with Python's integer and float rules
/// (floor division, modulo with the divisor's sign), `+` and `*` on strings and lists, `%`
/// formatting, comparisons (chained, `in`), equality across int/float/bool.
extension Interpreter {
    // MARK: Operators

    func unary(_ op: UnaryOperator, _ value: Value) throws -> Value {
        if case .not = op { return .bool(!value.truthy) }
        switch value {
        case .int(let i):
            if op == .plus { return value }
            guard i != .min else { throw RenderFailure.value("integer overflow") }
            return .int(-i)
        case .bool(let b): return .int(op == .negate && b ? -1 : b ? 1 : 0)
        case .double(let d): return .double(op == .negate ? -d : d)
        case .undefined(let undefined): throw RenderFailure.undefined(undefined.hint)
        default: throw RenderFailure.type("bad operand type for unary \(op == .negate ? "-" : "+"): '\(value.typeName)'")
        }
    }

    private enum Number {
        case int(Int), double(Double)
        var double: Double {
            switch self {
            case .int(let i): return Double(i)
            case .double(let d): return d
            }
        }
    }

    private static func number(_ value: Value) -> Number? {
        switch value {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return .double(d)
        default: return nil
        }
    }

    func binary(_ op: BinaryOperator, _ a: Value, _ b: Value) throws -> Value {
        if case .undefined(let undefined) = a { throw RenderFailure.undefined(undefined.hint) }
        // `'text' % undefined` formats (Python sees an object with items); any other use fails.
        if case .undefined(let undefined) = b, !(op == .modulo && { if case .string = a { return true } else { return false } }()) {
            throw RenderFailure.undefined(undefined.hint)
        }
        if let x = Self.number(a), let y = Self.number(b) { return try arithmetic(op, x, y) }
        switch (op, a, b) {
        case (.add, .string(let x), .string(let y)):
            try charge(bytes: x.utf8.count + y.utf8.count)
            return .string(x + y)
        case (.add, .list(let x), .list(let y)) where x.isSequence && x.kind == y.kind:
            try checkLength(x.items.count + y.items.count)
            return .list(ValueList(x.items + y.items, kind: x.kind))
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            guard let count = Self.integer(b) ?? Self.integer(a) else { break }
            guard count > 0 else { return .string("") }
            let (size, overflow) = s.utf8.count.multipliedReportingOverflow(by: count)
            try charge(bytes: overflow ? .max : size)
            return .string(String(repeating: s, count: count))
        case (.multiply, .list(let list), _) where list.isSequence, (.multiply, _, .list(let list)) where list.isSequence:
            guard let count = Self.integer(b) ?? Self.integer(a) else { break }
            guard count > 0 else { return .list(ValueList([], kind: list.kind)) }
            let (size, overflow) = list.items.count.multipliedReportingOverflow(by: count)
            try checkLength(overflow ? .max : size)
            return .list(ValueList(Array([[Value]](repeating: list.items, count: count).joined()), kind: list.kind))
        case (.modulo, .string(let format), _):
            let text = try PercentFormat.format(format, b)
            try charge(bytes: text.utf8.count)
            return .string(text)
        default:
            break
        }
        if op == .add, case .string = a {
            throw RenderFailure.type("can only concatenate str (not \"\(b.typeName)\") to str")
        }
        if op == .add, case .list = a {
            throw RenderFailure.type("can only concatenate list (not \"\(b.typeName)\") to list")
        }
        throw RenderFailure.type("unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'")
    }

    private func arithmetic(_ op: BinaryOperator, _ x: Number, _ y: Number) throws -> Value {
        if case .int(let a) = x, case .int(let b) = y {
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
                guard !result.overflow else { throw RenderFailure.value("integer overflow (Python integers are unbounded; Kiln's have 64 bits)") }
                return .int(result.partialValue)
            }
            switch op {
            case .add: return try checked(a.addingReportingOverflow(b))
            case .subtract: return try checked(a.subtractingReportingOverflow(b))
            case .multiply: return try checked(a.multipliedReportingOverflow(by: b))
            case .divide:
                guard b != 0 else { throw RenderFailure.value("division by zero") }
                return .double(Double(a) / Double(b))
            case .floorDivide, .modulo:
                guard b != 0 else { throw RenderFailure.value(op == .modulo ? "integer modulo by zero" : "integer division or modulo by zero") }
                guard !(a == .min && b == -1) else { throw RenderFailure.value("integer overflow") }
                var quotient = a / b
                var remainder = a % b
                // Python floors: the remainder takes the divisor's sign.
                if remainder != 0, (remainder < 0) != (b < 0) {
                    quotient -= 1
                    remainder += b
                }
                return .int(op == .modulo ? remainder : quotient)
            case .power:
                if b < 0 { return .double(pow(Double(a), Double(b))) }
                var result = 1
                for _ in 0..<min(b, 64) where !(result == 0 || (result == 1 && a == 1)) {
                    let (product, overflow) = result.multipliedReportingOverflow(by: a)
                    guard !overflow else { throw RenderFailure.value("integer overflow (Python integers are unbounded; Kiln's have 64 bits)") }
                    result = product
                }
                if b > 64, abs(a) > 1 { throw RenderFailure.value("integer overflow (Python integers are unbounded; Kiln's have 64 bits)") }
                if b > 64, a == -1 { return .int(b % 2 == 0 ? 1 : -1) }
                return .int(result)
            }
        }
        let a = x.double
        let b = y.double
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw RenderFailure.value("float division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw RenderFailure.value("float floor division by zero") }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw RenderFailure.value("float modulo") }
            var remainder = a.truncatingRemainder(dividingBy: b)
            if remainder != 0, (remainder < 0) != (b < 0) { remainder += b }
            return .double(remainder)
        case .power:
            return .double(pow(a, b))
        }
    }

    // MARK: Comparisons

    func compare(_ op: CompareOperator, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .equal: return try equals(a, b)
        case .notEqual: return try !equals(a, b)
        case .in: return try contains(b, a)
        case .notIn: return try !contains(b, a)
        case .less: return try less(a, b, op)
        case .lessOrEqual: return try less(a, b, op) || equals(a, b)
        case .greater: return try less(b, a, op)
        case .greaterOrEqual: return try less(b, a, op) || equals(a, b)
        }
    }

    /// Python `==`: numbers across int/float/bool, strings by code point, containers by content.
    func equals(_ a: Value, _ b: Value, depth: Int = 0) throws -> Bool {
        guard depth <= PythonText.maxReprDepth else { return false }
        if let x = Self.number(a), let y = Self.number(b) {
            if case .int(let i) = x, case .int(let j) = y { return i == j }
            return x.double == y.double
        }
        switch (a, b) {
        case (.none, .none), (.undefined, .undefined): return true
        case (.string(let x), .string(let y)):
            try charge(bytes: min(x.utf8.count, y.utf8.count))
            return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.list(let x), .list(let y)):
            // Generators are equal only to themselves, which no template can tell apart here.
            if case .iterator = x.kind { return false }
            guard x.kind == y.kind, x.items.count == y.items.count else { return false }
            for (p, q) in zip(x.items, y.items) where try !equals(p, q, depth: depth + 1) { return false }
            return true
        case (.dict(let x), .dict(let y)):
            guard x.count == y.count else { return false }
            for (key, value) in x.pairs {
                guard let other = y[key], try equals(value, other, depth: depth + 1) else { return false }
            }
            return true
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.callable(let x), .callable(let y)): return x === y
        case (.loop(let x), .loop(let y)): return x === y
        default: return false
        }
    }

    /// Python `<`; mixed or unordered types are a TypeError, as in Python 3.
    func less(_ a: Value, _ b: Value, _ op: CompareOperator = .less) throws -> Bool {
        if let x = Self.number(a), let y = Self.number(b) {
            if case .int(let i) = x, case .int(let j) = y { return i < j }
            return x.double < y.double
        }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            try charge(bytes: min(x.utf8.count, y.utf8.count))
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) { $0.value < $1.value }
        case (.list(let x), .list(let y)) where x.isSequence && x.kind == y.kind:
            for (p, q) in zip(x.items, y.items) where try !equals(p, q) { return try less(p, q, op) }
            return x.items.count < y.items.count
        case (.undefined(let undefined), _), (_, .undefined(let undefined)):
            throw RenderFailure.undefined(undefined.hint)
        default:
            throw RenderFailure.type("'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
    }

    /// Python `needle in container`.
    func contains(_ container: Value, _ needle: Value) throws -> Bool {
        switch container {
        case .string(let haystack):
            guard case .string(let s) = needle else {
                throw RenderFailure.type("'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return try contains(s, in: haystack)
        case .list:
            for item in try iterate(container) where try equals(item, needle) { return true }
            return false
        case .dict(let dict):
            switch needle {
            case .string(let key): return dict[key] != nil
            case .list(let list) where list.kind == .list: throw RenderFailure.type("unhashable type: 'list'")
            case .list(let list) where list.kind != .tuple:
                if case .view = list.kind { throw RenderFailure.type("unhashable type: '\(needle.typeName)'") }
                return false
            case .dict: throw RenderFailure.type("unhashable type: 'dict'")
            default: return false
            }
        case .undefined:
            return false
        case .loop(let context):
            for item in context.items where try equals(item, needle) { return true }
            return false
        default:
            throw RenderFailure.type("argument of type '\(container.typeName)' is not iterable")
        }
    }
}
