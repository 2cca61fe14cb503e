/// Reads and writes metadata values in the `.kiln` header encoding (docs/FORMAT.md §5).
enum MetadataCodec {
    // MARK: Decoding

    /// Decodes `count` map entries (key, tag, payload). Keys must be unique.
    static func decodeEntries(
        _ reader: inout ByteReader, count: UInt64, depth: Int, context: String
    ) throws -> [String: MetadataValue] {
        // Each entry needs at least an 8-byte key length and a tag.
        guard count <= UInt64(reader.remaining / 9) else {
            throw KilnError.malformed(
                "\(context) claims \(count) entries but only \(reader.remaining) header bytes remain", at: reader.fileOffset - 8)
        }
        var entries: [String: MetadataValue] = [:]
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            let keyOffset = reader.fileOffset
            let key = try reader.readString("\(context) key")
            let value = try decodeTagged(&reader, depth: depth, context: "metadata key '\(key)'")
            guard entries.updateValue(value, forKey: key) == nil else {
                throw KilnError.malformed("duplicate key '\(key)' in \(context)", at: keyOffset)
            }
        }
        return entries
    }

    // Contexts are autoclosures: they name the place in errors, and building them eagerly for
    // every element of a 100,000-entry vocabulary would dominate the cost of opening a file.
    static func decodeTagged(_ reader: inout ByteReader, depth: Int, context: @autoclosure () -> String) throws -> MetadataValue {
        let tagOffset = reader.fileOffset
        let tag = try reader.read(UInt8.self, "\(context()) tag")
        return try decodePayload(&reader, tag: tag, tagOffset: tagOffset, depth: depth, context: context())
    }

    private static func decodePayload(
        _ reader: inout ByteReader, tag: UInt8, tagOffset: UInt64, depth: Int, context: @autoclosure () -> String
    ) throws -> MetadataValue {
        switch tag {
        case 1:
            let offset = reader.fileOffset
            let byte = try reader.read(UInt8.self, context())
            guard byte <= 1 else { throw KilnError.malformed("\(context()): bool byte is \(byte), expected 0 or 1", at: offset) }
            return .bool(byte == 1)
        case 2: return .int(try reader.read(Int64.self, context()))
        case 3: return .uint(try reader.read(UInt64.self, context()))
        case 4: return .float(try reader.readFloat64(context()))
        case 5: return .string(try reader.readString(context()))
        case 6:
            let offset = reader.fileOffset
            let length = try reader.read(UInt64.self, "\(context()) length")
            guard length <= UInt64(reader.remaining) else {
                throw KilnError.malformed("\(context()) claims \(length) bytes but only \(reader.remaining) remain", at: offset)
            }
            return .bytes(Array(try reader.readBytes(Int(length), context())))
        case 7:
            guard depth < KilnLayout.maxMetadataDepth else {
                throw KilnError.malformed("\(context()) nests deeper than \(KilnLayout.maxMetadataDepth) levels", at: tagOffset)
            }
            let elementTag = try reader.read(UInt8.self, "\(context()) element tag")
            guard (1...8).contains(elementTag) else {
                throw KilnError.malformed("\(context()): unknown array element tag \(elementTag)", at: reader.fileOffset - 1)
            }
            let countOffset = reader.fileOffset
            let count = try reader.read(UInt64.self, "\(context()) count")
            guard count <= UInt64(reader.remaining / minimumPayloadBytes(elementTag)) else {
                throw KilnError.malformed(
                    "\(context()) claims \(count) elements but only \(reader.remaining) header bytes remain", at: countOffset)
            }
            var elements: [MetadataValue] = []
            elements.reserveCapacity(Int(count))
            for index in 0..<count {
                let elementOffset = reader.fileOffset
                elements.append(
                    try decodePayload(&reader, tag: elementTag, tagOffset: elementOffset, depth: depth + 1, context: "\(context())[\(index)]"))
            }
            return .array(elements)
        case 8:
            guard depth < KilnLayout.maxMetadataDepth else {
                throw KilnError.malformed("\(context()) nests deeper than \(KilnLayout.maxMetadataDepth) levels", at: tagOffset)
            }
            let count = try reader.read(UInt64.self, "\(context()) count")
            return .map(try decodeEntries(&reader, count: count, depth: depth + 1, context: context()))
        default:
            throw KilnError.malformed("\(context()): unknown metadata tag \(tag), expected 1–8", at: tagOffset)
        }
    }

    /// The fewest bytes a payload of `tag` can take, used to bound counts before allocating.
    private static func minimumPayloadBytes(_ tag: UInt8) -> Int {
        switch tag {
        case 1: return 1  // bool
        case 7: return 9  // element tag + count
        default: return 8  // i64, u64, f64, or a length/count field
        }
    }

    // MARK: Encoding

    static func encodeEntries(_ entries: [String: MetadataValue], into out: inout ByteWriter) {
        out.append(UInt64(entries.count))
        for key in entries.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            out.appendString(key)
            encodeTagged(entries[key]!, into: &out)
        }
    }

    static func encodeTagged(_ value: MetadataValue, into out: inout ByteWriter) {
        out.append(value.tag)
        encodePayload(value, into: &out)
    }

    private static func encodePayload(_ value: MetadataValue, into out: inout ByteWriter) {
        switch value {
        case .bool(let b): out.append(UInt8(b ? 1 : 0))
        case .int(let v): out.append(v)
        case .uint(let v): out.append(v)
        case .float(let v): out.append(v.bitPattern)
        case .string(let s): out.appendString(s)
        case .bytes(let b):
            out.append(UInt64(b.count))
            out.append(contentsOf: b)
        case .array(let elements):
            let elementTag = elements.first?.tag ?? 1
            precondition(elements.allSatisfy { $0.tag == elementTag },
                         "metadata arrays must be homogeneous; got mixed element types")
            out.append(elementTag)
            out.append(UInt64(elements.count))
            for element in elements { encodePayload(element, into: &out) }
        case .map(let entries):
            encodeEntries(entries, into: &out)
        }
    }
}
