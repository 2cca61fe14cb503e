/// Jinja's tests (`x is defined`, `x is string`, `n is divisibleby 3`, …), resolved by name
/// at parse time like filters.
enum TemplateTest: String, Sendable {
    case boolean, callable, defined, divisibleby, eq, equalto, escaped, even, `false`, filter, float, ge, gt
    case greaterthan, `in`, integer, iterable, le, lessthan, lower, lt, mapping, ne, none, number, odd, sameas
    case sequence, string, test, `true`, undefined, upper

    init?(name: String) { self.init(rawValue: name) }

    func apply(to value: Value, _ positional: [Value], _ keywords: [(String, Value)], _ interpreter: Interpreter) throws -> Bool {
        let needsArgument: Set<TemplateTest> = [.divisibleby, .eq, .equalto, .ge, .gt, .greaterthan, .in, .le, .lessthan, .lt, .ne, .sameas]
        let arguments = try CallArguments(rawValue, positional, keywords, parameters: needsArgument.contains(self) ? ["other"] : [])
        func other() throws -> Value { try arguments.required(0) }
        switch self {
        case .boolean:
            if case .bool = value { return true }
            return false
        case .callable:
            if case .callable = value { return true }
            return false
        case .defined: return !value.isUndefined
        case .undefined: return value.isUndefined
        case .divisibleby:
            let divisor = try other()
            guard Interpreter.integer(divisor) != 0 else { throw RenderFailure.value("integer division or modulo by zero") }
            let remainder = try interpreter.binary(.modulo, value, divisor)
            return !remainder.truthy
        case .eq, .equalto: return try interpreter.equals(value, try other())
        case .ne: return try !interpreter.equals(value, try other())
        case .lt, .lessthan: return try interpreter.compare(.less, value, try other())
        case .le: return try interpreter.compare(.lessOrEqual, value, try other())
        case .gt, .greaterthan: return try interpreter.compare(.greater, value, try other())
        case .ge: return try interpreter.compare(.greaterOrEqual, value, try other())
        case .in: return try interpreter.contains(try other(), value)
        case .escaped: return false
        case .even, .odd:
            // Jinja: `value % 2 == 1` (so 0.5 is neither odd nor even).
            let remainder = try interpreter.binary(.modulo, value, .int(2))
            return try interpreter.equals(remainder, .int(self == .odd ? 1 : 0))
        case .false:
            if case .bool(false) = value { return true }
            return false
        case .true:
            if case .bool(true) = value { return true }
            return false
        case .filter:
            if case .string(let name) = value { return TemplateFilter(name: name) != nil }
            return false
        case .test:
            if case .string(let name) = value { return TemplateTest(name: name) != nil }
            return false
        case .float:
            if case .double = value { return true }
            return false
        case .integer:
            if case .int = value { return true }
            return false
        case .number:
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case .string:
            if case .string = value { return true }
            return false
        case .none:
            if case .none = value { return true }
            return false
        case .mapping:
            if case .dict = value { return true }
            return false
        case .iterable, .sequence:
            // Python's str, list, tuple and dict are both; so is Jinja's Undefined. Generators
            // and dict views are iterable but not sequences (no indexing).
            switch value {
            case .string, .dict, .undefined, .loop: return true
            case .list(let list): return self == .iterable || list.isSequence
            default: return false
            }
        case .lower, .upper:
            let text = PythonText.str(value)
            var cased = false
            for c in text.unicodeScalars where PythonText.isCased(c) {
                cased = true
                if self == .lower ? c.properties.isUppercase : c.properties.isLowercase { return false }
            }
            return cased
        case .sameas:
            switch (value, try other()) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.callable(let a), .callable(let b)): return a === b
            default: return false
            }
        }
    }
}
