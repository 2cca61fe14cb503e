import KilnCore

/// The GGUF type a metadata value is written as. Kiln's `MetadataValue` keeps integers as 64-bit
/// and floats as f64, so the width comes from the key (llama.cpp checks the exact type of the
/// keys it reads: UINT32 hyper-parameters, FLOAT32 epsilons, an INT32 token-type array) or,
/// for other keys, from the value: the narrowest of 32/64 bits that holds it exactly.
indirect enum GGUFType: Equatable, Sendable {
    case scalar(GGUFMetadata.ValueType)
    /// An array whose elements all have one type.
    case array(GGUFType)
    /// An array of arrays, each inner array typed on its own (GGUF allows them to differ).
    case nested

    static let uint32 = GGUFType.scalar(.uint32)
    static let int32 = GGUFType.scalar(.int32)
    static let float32 = GGUFType.scalar(.float32)
    static let bool = GGUFType.scalar(.bool)
    static let string = GGUFType.scalar(.string)

    /// The type inferred from a value alone; nil for maps, which GGUF cannot hold.
    static func infer(_ value: MetadataValue) -> GGUFType? {
        switch value {
        case .bool: return .bool
        case .int(let v): return .scalar(Int32(exactly: v) != nil ? .int32 : .int64)
        case .uint(let v): return .scalar(v <= UInt64(UInt32.max) ? .uint32 : .uint64)
        case .float(let v): return .scalar(GGUFValueEncoder.narrow(v) != nil ? .float32 : .float64)
        case .string: return .string
        case .bytes: return .array(.scalar(.uint8))
        case .map: return nil
        case .array(let items):
            if items.contains(where: { $0.arrayValue != nil }) {
                return items.allSatisfy { $0.arrayValue != nil } ? .nested : nil
            }
            var types: [GGUFMetadata.ValueType] = []
            for item in items {
                guard case .scalar(let t)? = infer(item) else { return nil }
                if !types.contains(t) { types.append(t) }
            }
            guard let first = types.first else { return .array(.uint32) }
            if types.count == 1 { return .array(.scalar(first)) }
            // Mixed widths or signs: one type that holds them all, if there is one.
            let set = Set(types)
            if set.isSubset(of: [.float32, .float64]) { return .array(.scalar(.float64)) }
            if set.isSubset(of: [.int32, .int64]) { return .array(.scalar(.int64)) }
            if set.isSubset(of: [.uint32, .uint64]) { return .array(.scalar(.uint64)) }
            if set.isSubset(of: [.int32, .int64, .uint32]) { return .array(.scalar(.int64)) }
            return nil
        }
    }
}

/// Encodes typed GGUF key/value pairs (the `gguf_type` encoding GGUFMetadata reads).
enum GGUFValueEncoder {
    /// Writes `key`, its type and its value. Errors name the key and what did not fit.
    static func entry(_ key: String, _ type: GGUFType, _ value: MetadataValue, into out: inout ByteWriter) throws {
        out.appendString(key)
        do {
            try typeAndPayload(type, value, into: &out)
        } catch let error as KilnError {
            throw error.at("metadata key '\(key)'")
        }
    }

    private static func typeAndPayload(_ type: GGUFType, _ value: MetadataValue, into out: inout ByteWriter) throws {
        switch type {
        case .scalar(let t):
            out.append(t.rawValue)
            try scalar(t, value, into: &out)
        case .array, .nested:
            out.append(GGUFMetadata.ValueType.array.rawValue)
            try arrayPayload(type, value, into: &out)
        }
    }

    /// Element type, count, elements.
    private static func arrayPayload(_ type: GGUFType, _ value: MetadataValue, into out: inout ByteWriter) throws {
        let items: [MetadataValue]
        switch value {
        case .array(let a): items = a
        case .bytes(let b): items = b.map { .uint(UInt64($0)) }
        default: throw KilnError(.usage, "is \(value.typeName), expected an array")
        }
        switch type {
        case .array(.scalar(let t)):
            out.append(t.rawValue)
            out.append(UInt64(items.count))
            for item in items { try scalar(t, item, into: &out) }
        case .array(let inner):
            out.append(GGUFMetadata.ValueType.array.rawValue)
            out.append(UInt64(items.count))
            for item in items { try arrayPayload(inner, item, into: &out) }
        case .nested:
            out.append(GGUFMetadata.ValueType.array.rawValue)
            out.append(UInt64(items.count))
            for item in items {
                guard let inner = GGUFType.infer(item) else { throw KilnError(.unsupported, "holds a value GGUF cannot store") }
                try arrayPayload(inner, item, into: &out)
            }
        case .scalar:
            preconditionFailure("arrayPayload called for a scalar type")
        }
    }

    private static func scalar(_ type: GGUFMetadata.ValueType, _ value: MetadataValue, into out: inout ByteWriter) throws {
        func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let converted: T?
            switch value {
            case .int(let v): converted = T(exactly: v)
            case .uint(let v): converted = T(exactly: v)
            case .bool(let b): converted = b ? 1 : 0
            default: throw KilnError(.usage, "is \(value.typeName), expected an integer for \(type.name)")
            }
            guard let converted else { throw KilnError(.usage, "value \(value) does not fit \(type.name)") }
            return converted
        }
        switch type {
        case .uint8: out.append(try integer(UInt8.self))
        case .int8: out.append(try integer(Int8.self))
        case .uint16: out.append(try integer(UInt16.self))
        case .int16: out.append(try integer(Int16.self))
        case .uint32: out.append(try integer(UInt32.self))
        case .int32: out.append(try integer(Int32.self))
        case .uint64: out.append(try integer(UInt64.self))
        case .int64: out.append(try integer(Int64.self))
        case .float32, .float64:
            guard let number = value.doubleValue else { throw KilnError(.usage, "is \(value.typeName), expected a number") }
            if type == .float64 {
                out.append(number.bitPattern)
            } else {
                // Values that came from a FLOAT32 are exact; others are rounded to nearest.
                out.append(narrow(number) ?? Float(number).bitPattern)
            }
        case .bool:
            guard let b = value.boolValue else { throw KilnError(.usage, "is \(value.typeName), expected a bool") }
            out.append(UInt8(b ? 1 : 0))
        case .string:
            guard let s = value.stringValue else { throw KilnError(.usage, "is \(value.typeName), expected a string") }
            out.appendString(s)
        case .array:
            preconditionFailure("scalar called for an array type")
        }
    }

    /// The f32 bits of `value` when it is exactly an f32 (NaNs keep sign and payload, the
    /// inverse of `GGUFMetadata.widen`); nil otherwise.
    static func narrow(_ value: Double) -> UInt32? {
        if value.isNaN {
            let bits = value.bitPattern
            guard bits & ((1 << 29) - 1) == 0 else { return nil }
            return UInt32(bits >> 63) << 31 | 0x7F80_0000 | UInt32((bits >> 29) & 0x7F_FFFF)
        }
        let single = Float(value)
        return Double(single) == value ? single.bitPattern : nil
    }
}
