import KilnCore

/// Reads GGUF metadata key/value pairs (`gguf_type` values, including arrays of arrays) into
/// `MetadataValue`s: unsigned integers become `.uint`, signed ones `.int`, both float widths
/// `.float`, arrays `.array`. Every count is checked against the bytes left before anything
/// is allocated, and arrays may nest at most `maxDepth` deep, so a hostile header fails fast.
enum GGUFMetadata {
    static let maxDepth = 16

    /// A value's type tag as stored in the file.
    enum ValueType: UInt32 {
        case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

        var name: String {
            switch self {
            case .uint8: return "UINT8"
            case .int8: return "INT8"
            case .uint16: return "UINT16"
            case .int16: return "INT16"
            case .uint32: return "UINT32"
            case .int32: return "INT32"
            case .float32: return "FLOAT32"
            case .bool: return "BOOL"
            case .string: return "STRING"
            case .array: return "ARRAY"
            case .uint64: return "UINT64"
            case .int64: return "INT64"
            case .float64: return "FLOAT64"
            }
        }

        /// The fewest bytes one value of this type occupies (a string's length, an array's
        /// element type and count), so a count can be checked before anything is allocated.
        var minimumSize: Int {
            switch self {
            case .uint8, .int8, .bool: return 1
            case .uint16, .int16: return 2
            case .uint32, .int32, .float32: return 4
            case .uint64, .int64, .float64, .string: return 8
            case .array: return 12
            }
        }
    }

    struct Entry {
        let key: String
        let type: ValueType
        let value: MetadataValue
        /// File offset of the entry's key.
        let offset: UInt64
    }

    /// Reads `count` key/value pairs. Keys must be unique (ggml rejects duplicates too).
    static func readEntries(_ reader: inout ByteReader, count: UInt64, countOffset: UInt64) throws -> [Entry] {
        // Each entry needs at least a key length (8), a value type (4) and a 1-byte value.
        guard count <= UInt64(reader.remaining / 13) else {
            throw KilnError.malformed(
                "header claims \(count) metadata entries but only \(reader.remaining) bytes follow (each needs at least 13)",
                at: countOffset)
        }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        var seen = Set<String>()
        for index in 0..<count {
            let offset = reader.fileOffset
            let key = try reader.readString("metadata entry \(index) key")
            do {
                guard seen.insert(key).inserted else { throw KilnError.malformed("duplicate metadata key", at: offset) }
                let type = try readType(&reader, "value type")
                let value = try readValue(&reader, type: type, depth: 0)
                entries.append(Entry(key: key, type: type, value: value, offset: offset))
            } catch let error as KilnError {
                throw error.at("metadata key '\(key)'")
            }
        }
        return entries
    }

    private static func readType(_ reader: inout ByteReader, _ field: String) throws -> ValueType {
        let offset = reader.fileOffset
        let raw = try reader.read(UInt32.self, field)
        guard let type = ValueType(rawValue: raw) else {
            throw KilnError.malformed("unknown \(field) \(raw); GGUF defines 0–12", at: offset)
        }
        return type
    }

    static func readValue(_ reader: inout ByteReader, type: ValueType, depth: Int) throws -> MetadataValue {
        switch type {
        case .uint8: return .uint(UInt64(try reader.read(UInt8.self, "UINT8 value")))
        case .int8: return .int(Int64(try reader.read(Int8.self, "INT8 value")))
        case .uint16: return .uint(UInt64(try reader.read(UInt16.self, "UINT16 value")))
        case .int16: return .int(Int64(try reader.read(Int16.self, "INT16 value")))
        case .uint32: return .uint(UInt64(try reader.read(UInt32.self, "UINT32 value")))
        case .int32: return .int(Int64(try reader.read(Int32.self, "INT32 value")))
        case .uint64: return .uint(try reader.read(UInt64.self, "UINT64 value"))
        case .int64: return .int(try reader.read(Int64.self, "INT64 value"))
        case .float32: return .float(widen(try reader.read(UInt32.self, "FLOAT32 value")))
        case .float64: return .float(try reader.readFloat64("FLOAT64 value"))
        case .bool:
            let offset = reader.fileOffset
            let byte = try reader.read(UInt8.self, "BOOL value")
            guard byte <= 1 else { throw KilnError.malformed("BOOL value is \(byte), expected 0 or 1", at: offset) }
            return .bool(byte == 1)
        case .string: return .string(try reader.readString("STRING value"))
        case .array: return try readArray(&reader, depth: depth + 1)
        }
    }

    private static func readArray(_ reader: inout ByteReader, depth: Int) throws -> MetadataValue {
        let start = reader.fileOffset
        guard depth <= maxDepth else {
            throw KilnError.malformed("arrays nest deeper than \(maxDepth) levels", at: start)
        }
        let elementType = try readType(&reader, "array element type")
        let countOffset = reader.fileOffset
        let count = try reader.read(UInt64.self, "array length")
        guard count <= UInt64(reader.remaining / elementType.minimumSize) else {
            throw KilnError.malformed(
                "array of \(elementType.name) claims \(count) elements but only \(reader.remaining) bytes remain",
                at: countOffset)
        }
        var elements: [MetadataValue] = []
        elements.reserveCapacity(Int(count))
        for _ in 0..<count {
            elements.append(try readValue(&reader, type: elementType, depth: depth))
        }
        return .array(elements)
    }

    /// f32 → f64 exactly. Plain conversion is exact too, except that the hardware quiets
    /// signalling NaNs; metadata is kept verbatim, so NaN payloads are moved over by hand.
    static func widen(_ bits: UInt32) -> Double {
        let value = Float(bitPattern: bits)
        guard value.isNaN else { return Double(value) }
        let sign = UInt64(bits >> 31) << 63
        return Double(bitPattern: sign | 0x7FF0_0000_0000_0000 | (UInt64(bits & 0x7F_FFFF) << 29))
    }
}
