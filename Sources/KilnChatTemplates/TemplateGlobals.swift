#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The functions transformers gives every chat template: `range`, `namespace`, `dict`,
/// `raise_exception` and `strftime_now`. Variables of the same name shadow them.
enum TemplateGlobals {
    static func value(_ name: String) -> Value? {
        switch name {
        case "range": return .callable(Callable("range", body: range))
        case "namespace": return .callable(Callable("namespace", body: namespace))
        case "dict": return .callable(Callable("dict", body: dict))
        case "raise_exception": return .callable(Callable("raise_exception", body: raiseException))
        case "strftime_now": return .callable(Callable("strftime_now", body: strftimeNow))
        default: return nil
        }
    }

    private static func range(_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        guard keywords.isEmpty, (1...3).contains(positional.count) else {
            throw RenderFailure.type("range expected 1 to 3 integer arguments")
        }
        let numbers = try positional.map { value -> Int in
            guard let n = Interpreter.integer(value) else {
                throw RenderFailure.type("'\(value.typeName)' object cannot be interpreted as an integer")
            }
            return n
        }
        let (start, stop) = numbers.count == 1 ? (0, numbers[0]) : (numbers[0], numbers[1])
        let step = numbers.count == 3 ? numbers[2] : 1
        guard step != 0 else { throw RenderFailure.value("range() arg 3 must not be zero") }
        // The length first, so that range(10**18) is refused before anything is allocated.
        let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
        let count = span <= 0 ? 0 : Int(min((span / Double(abs(step))).rounded(.up), 1e18))
        try interpreter.checkLength(count)
        return .list(Swift.stride(from: start, to: stop, by: step).map(Value.int))
    }

    private static func namespace(_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let namespace = interpreter.makeNamespace()
        for argument in positional {
            guard case .dict(let dict) = argument else { throw RenderFailure.type("namespace() takes a dict and keyword arguments") }
            for (key, value) in dict.pairs { namespace.attributes[key] = value }
        }
        for (key, value) in keywords { namespace.attributes[key] = value }
        for key in namespace.attributes.keys where key.hasPrefix("_") {
            throw RenderFailure.security("chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(key)'")
        }
        return try interpreter.checkDepth(.namespace(namespace))
    }

    private static func dict(_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        var result = ValueDict()
        guard positional.count <= 1 else { throw RenderFailure.type("dict expected at most 1 argument, got \(positional.count)") }
        if let source = positional.first {
            switch source {
            case .dict(let dict):
                for (key, value) in dict.pairs { result[key] = value }
            case .list(let list):
                for pair in list.items {
                    guard let items = pair.sequence, items.count == 2, case .string(let key) = items[0] else {
                        throw RenderFailure.type("dict() needs (string key, value) pairs")
                    }
                    result[key] = items[1]
                }
            default:
                throw RenderFailure.type("'\(source.typeName)' object is not iterable")
            }
        }
        for (key, value) in keywords { result[key] = value }
        return try interpreter.checkDepth(.dict(result))
    }

    private static func raiseException(_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let arguments = try CallArguments("raise_exception", positional, keywords, parameters: ["message"])
        throw RenderFailure.raised(PythonText.str(try arguments.required(0)))
    }

    /// `datetime.now().strftime(format)`: local time, C `strftime` conversions.
    private static func strftimeNow(_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let arguments = try CallArguments("strftime_now", positional, keywords, parameters: ["format"])
        let format = try arguments.string(0) ?? ""
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { throw RenderFailure.value("cannot read the local time") }
        var buffer = [CChar](repeating: 0, count: 256)
        let written = strftime(&buffer, buffer.count, format, &parts)
        guard written > 0 || format.isEmpty else { throw RenderFailure.value("strftime_now: the formatted date is too long") }
        return .string(String(decoding: buffer.prefix(written).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
