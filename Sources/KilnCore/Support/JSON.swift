/// A JSON value, parsed by Kiln's own strict parser: safetensors headers, Hugging Face config
/// and tokenizer files, recipe files. Integers keep full 64-bit precision; duplicate object
/// keys are rejected (the safetensors format forbids them; the common parsers silently keep one).
public indirect enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer that fits `Int64` (a number with no fraction or exponent).
    case int(Int64)
    /// Integers above `Int64.max`.
    case uint(UInt64)
    /// Any other number.
    case double(Double)
    /// A string, escapes decoded.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; its keys are unique.
    case object([String: JSONValue])

    /// The member named `key`, or nil if this is not an object or has no such member.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The string, if this is a ``string(_:)``.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The elements, if this is an ``array(_:)``.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The members, if this is an ``object(_:)``.
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
    /// The boolean, if this is a ``bool(_:)``.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// Whether this is ``null``.
    public var isNull: Bool { self == .null }

    /// An integer value (also a float with no fractional part, as some writers produce).
    public var intValue: Int? {
        switch self {
        case .int(let v): return Int(exactly: v)
        case .uint(let v): return Int(exactly: v)
        case .double(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// A non-negative integer of up to 64 bits.
    public var uint64Value: UInt64? {
        switch self {
        case .int(let v): return UInt64(exactly: v)
        case .uint(let v): return v
        default: return nil
        }
    }

    /// Any number, as a `Double` (large integers round to the nearest `Double`).
    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }

    /// What kind of value this is, worded for messages: "expected a string, found a number".
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .uint, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer, baseOffset: UInt64 = 0, maxDepth: Int = 64) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, baseOffset: baseOffset, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses a JSON document (RFC 8259), nested at most 64 deep.
    ///
    /// - Throws: ``KilnError`` (`.malformed`) naming the byte offset of the first error, for
    ///   invalid syntax, a duplicate object key, a number out of range or nesting too deep.
    public static func parse(_ text: String) throws -> JSONValue {
        var copy = text
        return try copy.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }
}

/// A recursive-descent parser over UTF-8 bytes (RFC 8259), with a nesting limit so hostile
/// input cannot exhaust the stack.
struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let baseOffset: UInt64
    let maxDepth: Int
    var index = 0

    init(bytes: UnsafeRawBufferPointer, baseOffset: UInt64, maxDepth: Int) {
        self.bytes = bytes
        self.baseOffset = baseOffset
        self.maxDepth = maxDepth
    }

    private func fail(_ message: String) -> KilnError {
        KilnError.malformed("JSON: \(message)", at: baseOffset + UInt64(index))
    }

    mutating func parseDocument() throws -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected content after the JSON value") }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[index])))'")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count,
              UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]).elementsEqual(
                  UnsafeRawBufferPointer(start: literal.utf8Start, count: count))
        else { throw fail("invalid literal, expected \(literal)") }
        index += count
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        index += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let keyStart = index
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            guard object.updateValue(value, forKey: key) == nil else {
                index = keyStart
                throw fail("duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
            throw fail("expected ',' or '}' in object")
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
            throw fail("expected ',' or ']' in array")
        }
    }

    private mutating func parseString() throws -> String {
        let start = index
        index += 1
        // Fast path: no escapes.
        var runStart = index
        var scratch: [UInt8]? = nil
        while true {
            guard index < bytes.count else {
                index = start
                throw fail("unterminated string")
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])
                index += 1
                if scratch == nil {
                    guard let s = String(validating: run, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                    return s
                }
                scratch!.append(contentsOf: run)
                guard let s = String(validating: scratch!, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                return s
            }
            if byte < 0x20 { throw fail("control character in string") }
            if byte == UInt8(ascii: "\\") {
                if scratch == nil { scratch = [] }
                scratch!.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scratch!.append(0x22)
                case UInt8(ascii: "\\"): scratch!.append(0x5C)
                case UInt8(ascii: "/"): scratch!.append(0x2F)
                case UInt8(ascii: "b"): scratch!.append(0x08)
                case UInt8(ascii: "f"): scratch!.append(0x0C)
                case UInt8(ascii: "n"): scratch!.append(0x0A)
                case UInt8(ascii: "r"): scratch!.append(0x0D)
                case UInt8(ascii: "t"): scratch!.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by \u and a low surrogate.
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate in \\u escape")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    scratch!.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
                }
                runStart = index
                continue
            }
            index += 1
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard bytes.count - index >= 4 else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let s = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - s
        }
        let intDigits = digits()
        guard intDigits > 0 else { throw fail("invalid number") }
        if intDigits > 1, bytes[index - intDigits] == UInt8(ascii: "0") { index = start; throw fail("number with a leading zero") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard digits() > 0 else { throw fail("invalid number: no digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("invalid number: no digits in exponent") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger {
            if let v = Int64(text) { return .int(v) }
            if let v = UInt64(text) { return .uint(v) }
        }
        guard let v = Double(text) else { index = start; throw fail("invalid number '\(text)'") }
        return .double(v)
    }
}
