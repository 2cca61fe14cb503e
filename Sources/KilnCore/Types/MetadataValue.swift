/// A typed metadata value: model config, tokenizer tables, provenance. Maps nest; arrays
/// are homogeneous in the file (one element tag per array) but may hold arrays or maps.
public enum MetadataValue: Sendable, Hashable {
    /// A boolean.
    case bool(Bool)
    /// A signed 64-bit integer.
    case int(Int64)
    /// An unsigned 64-bit integer, for values above `Int64.max` (GGUF's `uint64` keys).
    case uint(UInt64)
    /// A 64-bit float (GGUF's `float32` values are widened exactly).
    case float(Double)
    /// A UTF-8 string.
    case string(String)
    /// Opaque bytes (hashes, blobs).
    case bytes([UInt8])
    /// An ordered list of values.
    case array([MetadataValue])
    /// Values by key; keys are written sorted, so a file's bytes do not depend on insertion order.
    case map([String: MetadataValue])

    /// Values are equal when they would be written as the same bytes: floats compare by bit
    /// pattern, so NaN equals the same NaN and -0 differs from +0.
    public static func == (a: MetadataValue, b: MetadataValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.map(let x), .map(let y)): return x == y
        default: return false
        }
    }

    /// Hashes consistently with `==` (floats by bit pattern).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(tag)
        switch self {
        case .bool(let v): hasher.combine(v)
        case .int(let v): hasher.combine(v)
        case .uint(let v): hasher.combine(v)
        case .float(let v): hasher.combine(v.bitPattern)
        case .string(let v): hasher.combine(v)
        case .bytes(let v): hasher.combine(v)
        case .array(let v): hasher.combine(v)
        case .map(let v): hasher.combine(v)
        }
    }

    /// The one-byte tag written before the value in a `.kiln` header (docs/FORMAT.md §Metadata).
    package var tag: UInt8 {
        switch self {
        case .bool: return 1
        case .int: return 2
        case .uint: return 3
        case .float: return 4
        case .string: return 5
        case .bytes: return 6
        case .array: return 7
        case .map: return 8
        }
    }

    /// The case's name (`"int"`, `"map"`, …), for messages such as "expected a string, found an int".
    public var typeName: String {
        switch self {
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .float: return "float"
        case .string: return "string"
        case .bytes: return "bytes"
        case .array: return "array"
        case .map: return "map"
        }
    }

    /// The string, if this is a ``string(_:)``.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The boolean, if this is a ``bool(_:)``.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The elements, if this is an ``array(_:)``.
    public var arrayValue: [MetadataValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The entries, if this is a ``map(_:)``.
    public var mapValue: [String: MetadataValue]? { if case .map(let m) = self { return m } else { return nil } }

    /// Any integer value that fits an `Int`.
    public var intValue: Int? {
        switch self {
        case .int(let v): return Int(exactly: v)
        case .uint(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// Any number, as a `Double`.
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        default: return nil
        }
    }

    /// Looks up a dotted path (`"provenance.tool"`) through nested maps.
    public subscript(path path: String) -> MetadataValue? {
        var current: MetadataValue? = self
        for component in path.split(separator: ".") {
            current = current?.mapValue?[String(component)]
        }
        return current
    }
}

extension MetadataValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// A ``string(_:)`` from a literal, so metadata can be written as `["name": "smol"]`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An ``int(_:)`` from a literal.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A ``bool(_:)`` from a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A ``float(_:)`` from a literal.
    public init(floatLiteral value: Double) { self = .float(value) }
    /// An ``array(_:)`` from a literal.
    public init(arrayLiteral elements: MetadataValue...) { self = .array(elements) }
    /// A ``map(_:)`` from a literal; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, MetadataValue)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
