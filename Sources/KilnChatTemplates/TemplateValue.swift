/// Data handed to a chat template besides the messages (`tools`, `documents`, `date_string`,
/// `enable_thinking`, …): the JSON value types. Objects keep their key order, because
/// templates print them with `tojson` and the order shows in the prompt.
public enum TemplateValue: Sendable, Equatable {
    /// JSON `null`, Python's `None`.
    case none
    /// A boolean.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// A list.
    case array([TemplateValue])
    /// An object (a dict), keys in insertion order.
    case object(TemplateObject)
}

/// A JSON object whose keys keep their insertion order, like a Python dict.
public struct TemplateObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The keys, in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    /// An empty object.
    public init() {}

    /// Later duplicates replace the value but keep the first position, as in Python.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }

    /// The value for `key`; setting `nil` removes the key, setting a new key appends it.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The number of keys.
    public var count: Int { keys.count }

    /// Key-value pairs in order.
    public var pairs: [(key: String, value: TemplateValue)] { keys.map { ($0, storage[$0]!) } }

    /// Equal when they hold the same pairs (order aside), like Python dicts.
    public static func == (a: TemplateObject, b: TemplateObject) -> Bool { a.storage == b.storage }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(TemplateObject(elements)) }
    public init(nilLiteral: ()) { self = .none }
}
