/// A value during rendering: Python's data types as Jinja templates see them, plus Jinja's
/// `Undefined`, `namespace()` objects, callables (macros, globals, bound methods) and the
/// `loop` object. Internal: callers pass `TemplateValue`s and get a `String` back.
enum Value {
    /// A missing variable, attribute or item. Prints as "" and is falsy, but using it as an
    /// object (attribute, item, arithmetic, call) is an error, as with Jinja's `Undefined`.
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// Python lists and tuples, and the lazy sequences some filters and methods return.
    case list(ValueList)
    case dict(ValueDict)
    case namespace(Namespace)
    case callable(Callable)
    case loop(LoopContext)

    init(_ value: TemplateValue) {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(ValueList(items.map(Value.init)))
        case .object(let object):
            var dict = ValueDict()
            for (key, item) in object.pairs { dict[key] = Value(item) }
            self = .dict(dict)
        }
    }

    static func list(_ items: [Value]) -> Value { .list(ValueList(items)) }
    static func tuple(_ items: [Value]) -> Value { .list(ValueList(items, kind: .tuple)) }

    /// Elements of a list or tuple (not of an iterator or a view, which cannot be indexed).
    var sequence: [Value]? {
        if case .list(let list) = self, list.kind == .list || list.kind == .tuple { return list.items }
        return nil
    }

    /// How deeply containers nest inside this value (0 for scalars). Bounded while rendering,
    /// because releasing, printing and comparing nested values all recurse.
    var depth: Int {
        switch self {
        case .list(let list): return list.depth
        case .dict(let dict): return dict.depth
        case .namespace(let ns): return ns.depth
        default: return 0
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python's truth value.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let list):
            // A generator is an object, true even when it will yield nothing.
            if case .iterator = list.kind { return true }
            return !list.items.isEmpty
        case .dict(let dict): return dict.count > 0
        case .namespace, .callable, .loop: return true
        }
    }

    /// The name Python error messages use for the type.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list(let list):
            switch list.kind {
            case .list: return "list"
            case .tuple: return "tuple"
            case .iterator(let name):
                // "generator object sync_do_map" names the type "generator".
                return name.split(separator: " ").first.map(String.init) ?? name
            case .view(let name): return name
            }
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable(let callable): return callable.isMacro ? "Macro" : "function"
        case .loop: return "LoopContext"
        }
    }
}

/// Why a value is undefined, for the error when it is used anyway.
struct Undefined {
    let hint: String

    static func name(_ name: String) -> Undefined { Undefined(hint: "'\(name)' is undefined") }

    static func attribute(_ name: String, of object: Value) -> Undefined {
        if case .none = object { return Undefined(hint: "'None' has no attribute '\(name)'") }
        return Undefined(hint: "'\(object.typeName) object' has no attribute '\(name)'")
    }
}

struct ValueList {
    enum Kind: Equatable {
        case list, tuple
        /// What `map`, `select`, `selectattr`, `unique`, `items` and `reverse` return in Jinja:
        /// a Python generator (or iterator), always true, without a length or indexes, printed
        /// as an object: "generator object sync_do_map", "list_reverseiterator".
        case iterator(String)
        /// `dict.items()`, `.keys()`, `.values()`: sized and iterable, not indexable.
        case view(String)
    }

    let items: [Value]
    let kind: Kind
    let depth: Int
    /// A generator fails when consumed, not when made: the error its making met.
    let pendingFailure: RenderFailure?

    init(_ items: [Value], kind: Kind = .list, pendingFailure: RenderFailure? = nil) {
        self.items = items
        self.kind = kind
        self.pendingFailure = pendingFailure
        depth = 1 + items.reduce(0) { max($0, $1.depth) }
    }

    var isTuple: Bool { kind == .tuple }
    /// A list or a tuple: indexable, sliceable, comparable.
    var isSequence: Bool { kind == .list || kind == .tuple }
}

/// A Python dict with string keys, in insertion order.
struct ValueDict {
    private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]
    /// An upper bound of the nesting depth (values can be replaced by shallower ones).
    private(set) var depth = 1

    subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                depth = max(depth, 1 + newValue.depth)
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Sets with a depth computed beforehand: `ns.me = ns` must not read the namespace's
    /// attributes while they are being modified.
    mutating func set(_ key: String, _ value: Value, depth valueDepth: Int) {
        depth = max(depth, 1 + valueDepth)
        if storage.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    var count: Int { keys.count }
    var values: [Value] { keys.map { storage[$0]! } }
    var pairs: [(key: String, value: Value)] { keys.map { ($0, storage[$0]!) } }
}

/// `namespace(...)`: the one mutable object templates have, shared by reference so that
/// `{% set ns.found = true %}` inside a loop is seen after it.
final class Namespace {
    var attributes = ValueDict()
    var depth: Int { attributes.depth }
}

/// A macro, a global function or a bound method.
final class Callable {
    typealias Body = (_ interpreter: Interpreter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value

    let name: String
    let isMacro: Bool
    let body: Body

    init(_ name: String, isMacro: Bool = false, body: @escaping Body) {
        self.name = name
        self.isMacro = isMacro
        self.body = body
    }
}

/// The `loop` variable inside a `for`: index, first/last, length, neighbours, cycle().
final class LoopContext {
    let items: [Value]
    var index0 = 0

    init(items: [Value]) { self.items = items }

    func attribute(_ name: String) -> Value? {
        let length = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(length - index0)
        case "revindex0": return .int(length - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == length - 1)
        case "length": return .int(length)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undefined(Undefined(hint: "there is no previous item"))
        case "nextitem":
            return index0 + 1 < length ? items[index0 + 1] : .undefined(Undefined(hint: "there is no next item"))
        case "cycle":
            return .callable(Callable("loop.cycle") { [index0] _, positional, _ in
                guard !positional.isEmpty else { throw RenderFailure.type("no items for cycling given") }
                return positional[index0 % positional.count]
            })
        default: return nil
        }
    }
}
