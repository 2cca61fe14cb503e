import KilnCore

/// A request's JSON body, read field by field: every accessor checks the type and range and
/// throws a 400 naming the field, so no bad input reaches the model.
struct RequestFields {
    let object: [String: JSONValue]

    init(body: [UInt8]) throws {
        let value: JSONValue
        do {
            value = try body.withUnsafeBytes { try JSONValue.parse($0) }
        } catch let error as KilnError {
            throw APIError.invalid("the request body is not valid JSON: \(error.message)", param: nil, code: "invalid_json")
        }
        guard case .object(let object) = value else {
            throw APIError.invalid("the request body must be a JSON object, not \(value.typeName)", param: nil, code: "invalid_json")
        }
        self.object = object
    }

    /// Absent and null are the same (OpenAI's SDKs send null for unset options).
    private func value(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.stringValue else { throw wrongType(key, "a string", value) }
        return string
    }

    func requiredString(_ key: String) throws -> String {
        guard let string = try string(key) else { throw APIError.invalid("'\(key)' is required", param: key) }
        return string
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.boolValue else { throw wrongType(key, "a boolean", value) }
        return bool
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = value(key) else { return nil }
        guard let int = value.intValue else { throw wrongType(key, "an integer", value) }
        guard range.contains(int) else {
            throw APIError.invalid("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), not \(int)", param: key)
        }
        return int
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.doubleValue else { throw wrongType(key, "a number", value) }
        guard range.contains(number) else {
            throw APIError.invalid("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), not \(number)", param: key)
        }
        return number
    }

    /// Seeds are any integer (negative ones wrap), as clients send them.
    func seed(_ key: String) throws -> UInt64? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let v): return UInt64(bitPattern: v)
        case .uint(let v): return v
        default: throw wrongType(key, "an integer", value)
        }
    }

    /// `stop`: one string or up to four.
    func stopStrings(_ key: String) throws -> [String] {
        guard let value = value(key) else { return [] }
        if let string = value.stringValue { return string.isEmpty ? [] : [string] }
        guard let items = value.arrayValue else { throw wrongType(key, "a string or an array of strings", value) }
        guard items.count <= 4 else { throw APIError.invalid("'\(key)' takes at most 4 strings, not \(items.count)", param: key) }
        return try items.enumerated().compactMap { index, item in
            guard let string = item.stringValue else { throw wrongType("\(key)[\(index)]", "a string", item) }
            return string.isEmpty ? nil : string
        }
    }

    func array(_ key: String) throws -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard let array = value.arrayValue else { throw wrongType(key, "an array", value) }
        return array
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSONValue) -> APIError {
        APIError.invalid("'\(key)' must be \(expected), not \(value.typeName)", param: key)
    }
}
