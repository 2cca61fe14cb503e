/// Arguments of a filter, test, method or global bound to its Python signature, so that
/// `tojson(indent=4)`, `replace('a', 'b', 2)` and `selectattr('role', 'equalto', 'user')`
/// mean what they mean in Jinja, and a wrong call is a TypeError rather than silently ignored.
struct CallArguments {
    let function: String
    private let names: [String]
    private var values: [Value?]
    /// Positional arguments past the named parameters (`*args`), when the signature has them.
    private(set) var rest: [Value] = []
    /// Keywords not in the signature (`**kwargs`), when it has them.
    private(set) var extraKeywords: [(String, Value)] = []

    init(_ function: String, _ positional: [Value], _ keywords: [(String, Value)], parameters: [String],
         variadic: Bool = false, variadicKeywords: Bool = false) throws
    {
        self.function = function
        names = parameters
        values = Array(repeating: nil, count: parameters.count)
        for (index, value) in positional.enumerated() {
            if index < parameters.count {
                values[index] = value
            } else if variadic {
                rest.append(value)
            } else {
                throw RenderFailure.type("\(function)() takes at most \(parameters.count) argument(s) (\(positional.count) given)")
            }
        }
        for (name, value) in keywords {
            if let index = parameters.firstIndex(of: name) {
                guard values[index] == nil else { throw RenderFailure.type("\(function)() got multiple values for argument '\(name)'") }
                values[index] = value
            } else if variadicKeywords {
                extraKeywords.append((name, value))
            } else {
                throw RenderFailure.type("\(function)() got an unexpected keyword argument '\(name)'")
            }
        }
    }

    subscript(_ index: Int) -> Value? { values[index] }

    func required(_ index: Int) throws -> Value {
        guard let value = values[index] else {
            throw RenderFailure.type("\(function)() missing required argument: '\(names[index])'")
        }
        return value
    }

    func string(_ index: Int) throws -> String? {
        guard let value = values[index] else { return nil }
        switch value {
        case .string(let s): return s
        case .none: return nil
        case .undefined(let u): throw RenderFailure.undefined(u.hint)
        default: throw RenderFailure.type("\(function)(): '\(names[index])' must be a string, not \(value.typeName)")
        }
    }

    func int(_ index: Int) throws -> Int? {
        guard let value = values[index] else { return nil }
        if case .none = value { return nil }
        guard let i = Interpreter.integer(value) else {
            throw RenderFailure.type("\(function)(): '\(names[index])' must be an integer, not \(value.typeName)")
        }
        return i
    }

    func bool(_ index: Int, default fallback: Bool) -> Bool { values[index]?.truthy ?? fallback }
}
