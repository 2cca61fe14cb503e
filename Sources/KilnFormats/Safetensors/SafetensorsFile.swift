import KilnCore

/// A safetensors file (huggingface/safetensors): an 8-byte little-endian header length, a JSON
/// header, then the tensors packed back to back. Validated completely at open, as the
/// reference implementation does: offsets contiguous from 0, sizes equal to shape × dtype, and
/// the data ending exactly at the end of the file.
package final class SafetensorsFile: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    package static let maxHeaderSize = 100_000_000

    package let path: String
    package let mapping: MappedFile
    package let metadata: [String: MetadataValue]
    package let sourceTensors: [SourceTensor]
    /// File offset of each tensor's first byte.
    private let offsets: [String: Int]
    package var formatName: String { "safetensors" }
    package var paths: [String] { [path] }

    package convenience init(path: String) throws {
        try self.init(mapping: try MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws {
        self.mapping = mapping
        path = mapping.path
        let parsed = try withFileContext(mapping.path) { try Self.parse(mapping.bytes) }
        metadata = parsed.metadata
        sourceTensors = parsed.tensors.map(\.tensor)
        offsets = Dictionary(uniqueKeysWithValues: parsed.tensors.map { ($0.tensor.name, $0.offset) })
    }

    /// A view into the mapping. The view may be unaligned for its element type (safetensors
    /// does not require alignment); `alignedData` copies in that case.
    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let offset = offsets[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: path)
        }
        return TensorData(bytes: UnsafeRawBufferPointer(rebasing: mapping.bytes[offset..<(offset + tensor.byteCount)]), owner: mapping)
    }

    /// The tensor's bytes at an address aligned for its element type: a view when the file
    /// happens to align it, a copy otherwise.
    package func alignedData(_ tensor: SourceTensor) throws -> TensorData {
        let view = try data(tensor)
        let alignment = tensor.type.scalarBytes ?? 1
        guard let base = view.bytes.baseAddress, Int(bitPattern: base) % alignment != 0 else { return view }
        let copy = try OwnedBytes(count: view.bytes.count)
        copy.mutableBuffer.copyMemory(from: view.bytes)
        return TensorData(copy)
    }

    package func release(_ tensor: SourceTensor) {
        guard let offset = offsets[tensor.name], tensor.byteCount > 0 else { return }
        mapping.advise(.dontNeed, range: offset..<(offset + tensor.byteCount))
    }

    // MARK: Parsing

    /// safetensors dtype names mapped to Kiln element types.
    static let dtypes: [String: ElementType] = [
        "F64": .f64, "F32": .f32, "F16": .f16, "BF16": .bf16,
        "I64": .i64, "I32": .i32, "I16": .i16, "I8": .i8,
        "U64": .u64, "U32": .u32, "U16": .u16, "U8": .u8, "BOOL": .bool,
    ]
    /// Types the format defines that Kiln does not handle yet.
    static let knownUnsupported: Set<String> = [
        "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64",
    ]

    struct Parsed {
        var metadata: [String: MetadataValue]
        var tensors: [(tensor: SourceTensor, offset: Int)]
    }

    static func parse(_ file: UnsafeRawBufferPointer) throws -> Parsed {
        guard file.count >= 8 else {
            throw KilnError.malformed("file is \(file.count) bytes; a safetensors file starts with an 8-byte header length", at: 0)
        }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(maxHeaderSize) else {
            throw KilnError.malformed("header length is \(headerLength) bytes, more than the format's limit of \(maxHeaderSize)", at: 0)
        }
        guard headerLength <= UInt64(file.count - 8) else {
            throw KilnError.malformed("header length is \(headerLength) bytes but only \(file.count - 8) bytes follow", at: 0)
        }
        let dataStart = 8 + Int(headerLength)
        let json = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: file[8..<dataStart]), baseOffset: 8, maxDepth: 8)
        guard case .object(let entries) = json else {
            throw KilnError.malformed("header is \(json.typeName), expected a JSON object", at: 8)
        }

        var metadata: [String: MetadataValue] = [:]
        var tensors: [(tensor: SourceTensor, begin: Int, end: Int)] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let map) = value else {
                    throw KilnError.malformed("__metadata__ is \(value.typeName), expected an object of strings", at: 8)
                }
                for (key, item) in map {
                    guard case .string(let s) = item else {
                        throw KilnError.malformed("__metadata__ value for '\(key)' is \(item.typeName); the format allows only strings", at: 8)
                    }
                    metadata[key] = .string(s)
                }
                continue
            }
            do {
                tensors.append(try parseTensor(name, value))
            } catch let error as KilnError {
                var e = error.at("tensor '\(name)'")
                if e.offset == nil { e.offset = 8 }
                throw e
            }
        }

        // Offsets must tile [0, data length) exactly: sorted, contiguous, no holes, no overlap.
        tensors.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for entry in tensors {
            guard entry.begin == expected else {
                let problem = entry.begin < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw KilnError.malformed(
                    "data_offsets [\(entry.begin), \(entry.end)) \(problem) (expected to start at \(expected))",
                    at: UInt64(dataStart + entry.begin), "tensor '\(entry.tensor.name)'")
            }
            expected = entry.end
        }
        let dataLength = file.count - dataStart
        guard expected == dataLength else {
            throw KilnError.malformed(
                expected > dataLength
                    ? "tensors need \(expected) data bytes but the file holds \(dataLength) (truncated?)"
                    : "\(dataLength - expected) bytes after the last tensor; the format allows none",
                at: UInt64(dataStart + min(expected, dataLength)))
        }
        return Parsed(metadata: metadata, tensors: tensors.map { ($0.tensor, dataStart + $0.begin) })
    }

    private static func parseTensor(_ name: String, _ value: JSONValue) throws -> (tensor: SourceTensor, begin: Int, end: Int) {
        guard case .object(let fields) = value else {
            throw KilnError.malformed("entry is \(value.typeName), expected an object with dtype, shape and data_offsets")
        }
        guard let dtypeName = fields["dtype"]?.stringValue else { throw KilnError.malformed("missing or non-string \"dtype\"") }
        guard let type = dtypes[dtypeName] else {
            if knownUnsupported.contains(dtypeName) {
                throw KilnError(.unsupported, "dtype \(dtypeName) is not supported by Kiln yet")
            }
            throw KilnError.malformed("unknown dtype \"\(dtypeName)\"; known: \(dtypes.keys.sorted().joined(separator: ", "))")
        }
        guard let shapeValues = fields["shape"]?.arrayValue else { throw KilnError.malformed("missing or non-array \"shape\"") }
        let shape = try shapeValues.map { dimension -> Int in
            guard let d = dimension.uint64Value else { throw KilnError.malformed("shape \(shapeValues) has a non-integer or negative dimension") }
            return try Checked.int(d, "dimension")
        }
        guard let offsets = fields["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin64 = offsets[0].uint64Value, let end64 = offsets[1].uint64Value
        else { throw KilnError.malformed("\"data_offsets\" must be two non-negative integers") }
        let begin = try Checked.int(begin64, "data_offsets begin")
        let end = try Checked.int(end64, "data_offsets end")
        guard begin <= end else { throw KilnError.malformed("data_offsets [\(begin), \(end)) ends before it begins") }
        let byteCount = try type.byteCount(shape: shape)
        guard end - begin == byteCount else {
            throw KilnError.malformed("data_offsets span \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        return (SourceTensor(name: name, type: type, shape: shape, byteCount: byteCount), begin, end)
    }
}
