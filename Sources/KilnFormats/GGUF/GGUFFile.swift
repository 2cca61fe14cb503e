import KilnCore

/// A GGUF file (ggml, llama.cpp), versions 2 and 3, little-endian: the magic "GGUF", a version,
/// tensor and metadata counts, typed metadata, tensor infos, then tensor data from the first
/// multiple of `general.alignment` (default 32) after the header. Validated at open: every
/// count against the bytes left, every shape product and offset sum overflow-checked, every
/// tensor aligned, inside the file and not overlapping another. Tensor data is served as views
/// into the mapping; quantised blocks keep their bytes (Kiln's types have the same layouts).
package final class GGUFFile: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    package static let magic: [UInt8] = Array("GGUF".utf8)
    package static let defaultAlignment = 32
    /// ggml's `GGML_MAX_DIMS`.
    package static let maxDimensions = 4

    package let path: String
    package let mapping: MappedFile
    package let version: UInt32
    /// `general.alignment`, or 32 when the file has none.
    package let alignment: Int
    /// File offset of the tensor data section; tensor offsets in the file are relative to it.
    package let dataOffset: Int
    /// The GGUF key/value pairs, verbatim, under their GGUF names.
    package let metadata: [String: MetadataValue]
    /// Each key's GGUF value type as text (`UINT8`, `ARRAY[INT32]`, …): `MetadataValue` keeps
    /// integers as 64-bit and floats as f64, so this is what lets a writer restore the widths.
    package let metadataTypes: [String: String]
    /// File offset of each key's entry, so an error about a value found later (a tokenizer
    /// token too long) can say where it is.
    package let metadataOffsets: [String: UInt64]
    /// Tensors in data order, shapes outermost dimension first (GGUF lists them innermost first).
    package let sourceTensors: [SourceTensor]
    /// File offset and byte count of each tensor.
    private let extents: [String: (offset: Int, count: Int)]
    package var formatName: String { "gguf" }
    package var paths: [String] { [path] }

    package convenience init(path: String) throws {
        try self.init(mapping: try MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws {
        self.mapping = mapping
        path = mapping.path
        let parsed = try withFileContext(mapping.path) { try Self.parse(mapping.bytes) }
        version = parsed.version
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        metadata = parsed.metadata
        metadataTypes = parsed.metadataTypes
        metadataOffsets = parsed.metadataOffsets
        sourceTensors = parsed.tensors.map(\.tensor)
        extents = Dictionary(uniqueKeysWithValues: parsed.tensors.map { ($0.tensor.name, ($0.offset, $0.tensor.byteCount)) })
    }

    /// A view into the mapping (no copy). GGUF aligns every tensor, so plain types can be
    /// read in place.
    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let extent = extents[tensor.name], extent.count == tensor.byteCount else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)' of \(tensor.byteCount) bytes", file: path)
        }
        return TensorData(bytes: UnsafeRawBufferPointer(rebasing: mapping.bytes[extent.offset..<(extent.offset + extent.count)]), owner: mapping)
    }

    package func release(_ tensor: SourceTensor) {
        guard let extent = extents[tensor.name], extent.count > 0 else { return }
        mapping.advise(.dontNeed, range: extent.offset..<(extent.offset + extent.count))
    }

    // MARK: Parsing

    struct Parsed {
        var version: UInt32
        var alignment: Int
        var dataOffset: Int
        var metadata: [String: MetadataValue]
        var metadataTypes: [String: String]
        var metadataOffsets: [String: UInt64]
        var tensors: [(tensor: SourceTensor, offset: Int)]
    }

    /// One tensor info record as stored.
    private struct Info {
        let tensor: SourceTensor
        /// Offset relative to the data section, as stored.
        let relativeOffset: Int
        /// File offset of the record's offset field, for errors about it.
        let offsetField: UInt64
    }

    static func parse(_ file: UnsafeRawBufferPointer) throws -> Parsed {
        var reader = ByteReader(file)
        guard file.count >= 4, file.prefix(4).elementsEqual(magic) else {
            throw KilnError.malformed("not a GGUF file: it does not start with the magic \"GGUF\"", at: 0)
        }
        try reader.skip(4, "magic")
        let version = try readVersion(&reader)
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let kvCountOffset = reader.fileOffset
        let kvCount = try reader.read(UInt64.self, "metadata entry count")
        // Each tensor info needs at least a name length (8), dimension count (4), type (4) and
        // offset (8): an absurd count fails here, before anything is read or allocated.
        guard tensorCount <= UInt64(reader.remaining / 24) else {
            throw KilnError.malformed(
                "header claims \(tensorCount) tensors but only \(reader.remaining) bytes follow (each tensor info needs at least 24)",
                at: 8)
        }

        let entries = try GGUFMetadata.readEntries(&reader, count: kvCount, countOffset: kvCountOffset)
        let alignment = try readAlignment(entries)
        var metadata: [String: MetadataValue] = [:]
        metadata.reserveCapacity(entries.count)
        var metadataTypes: [String: String] = [:]
        var metadataOffsets: [String: UInt64] = [:]
        for entry in entries {
            metadata[entry.key] = entry.value
            metadataTypes[entry.key] = entry.typeName
            metadataOffsets[entry.key] = entry.offset
        }

        var infos: [Info] = []
        infos.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        for index in 0..<tensorCount {
            let start = reader.fileOffset
            let name = try reader.readString("tensor info \(index) name")
            do {
                guard names.insert(name).inserted else { throw KilnError.malformed("duplicate tensor name", at: start) }
                let info = try readInfo(&reader, name: name, alignment: alignment)
                infos.append(info)
            } catch let error as KilnError {
                throw error.at("tensor '\(name)'")
            }
        }

        // ggml pads the header to the alignment; the data section starts there.
        let dataOffset = try Checked.alignUp(reader.position, to: alignment)
        let tensors = try place(infos, dataOffset: dataOffset, fileSize: file.count)
        return Parsed(version: version, alignment: alignment, dataOffset: dataOffset, metadata: metadata,
                      metadataTypes: metadataTypes, metadataOffsets: metadataOffsets, tensors: tensors)
    }

    /// Versions 2 and 3 share their layout on little-endian machines. Version 1 used 32-bit
    /// counts; a big-endian file shows up as a byte-swapped version (ggml's own heuristic: the
    /// low 16 bits read as zero), since GGUF has no byte-order mark.
    private static func readVersion(_ reader: inout ByteReader) throws -> UInt32 {
        let offset = reader.fileOffset
        let version = try reader.read(UInt32.self, "version")
        if version == 2 || version == 3 { return version }
        if version != 0, version & 0xFFFF == 0 {
            throw KilnError(.unsupported,
                "big-endian GGUF (the version field reads \(version.byteSwapped) byte-swapped); only little-endian GGUF files are supported",
                offset: offset)
        }
        if version == 1 {
            throw KilnError(.unsupported,
                "GGUF version 1 is not supported (it used 32-bit counts and lengths); versions 2 and 3 are", offset: offset)
        }
        throw KilnError(.unsupported, "GGUF version \(version) is not supported; versions 2 and 3 are", offset: offset)
    }

    /// `general.alignment`: a UINT32 that is a non-zero power of two (as ggml and gguf-py
    /// require), or 32 when absent.
    private static func readAlignment(_ entries: [GGUFMetadata.Entry]) throws -> Int {
        guard let entry = entries.first(where: { $0.key == "general.alignment" }) else { return defaultAlignment }
        guard entry.type == .uint32, case .uint(let value) = entry.value else {
            throw KilnError.malformed("general.alignment is \(entry.type.name), expected UINT32", at: entry.offset)
        }
        guard value > 0, value & (value - 1) == 0 else {
            throw KilnError.malformed("general.alignment is \(value); it must be a non-zero power of two", at: entry.offset)
        }
        return Int(value)
    }

    /// The rest of a tensor info record after its name: dimensions (innermost first), ggml
    /// type and data offset.
    private static func readInfo(_ reader: inout ByteReader, name: String, alignment: Int) throws -> Info {
        let dimsOffset = reader.fileOffset
        let dimensionCount = try reader.read(UInt32.self, "dimension count")
        guard dimensionCount <= UInt32(maxDimensions) else {
            throw KilnError.malformed("\(dimensionCount) dimensions; GGUF allows at most \(maxDimensions)", at: dimsOffset)
        }
        var innermostFirst: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let offset = reader.fileOffset
            let dimension = try reader.read(UInt64.self, "dimension \(axis)")
            guard let value = Int(exactly: dimension) else {
                throw KilnError.malformed("dimension \(axis) is \(dimension), larger than this machine can address", at: offset)
            }
            innermostFirst.append(value)
        }
        let typeOffset = reader.fileOffset
        let rawType = try reader.read(UInt32.self, "tensor type")
        let type: ElementType
        let byteCount: Int
        // Kiln shapes list the outermost dimension first, GGUF's `ne` the innermost first.
        let shape = Array(innermostFirst.reversed())
        do {
            type = try GGUFTensorType.elementType(rawType)
            byteCount = try type.byteCount(shape: shape)
        } catch var error as KilnError {
            if error.offset == nil { error.offset = typeOffset }
            throw error
        }
        let offsetField = reader.fileOffset
        let stored = try reader.read(UInt64.self, "data offset")
        guard let relative = Int(exactly: stored) else {
            throw KilnError.malformed("data offset \(stored) is larger than this machine can address", at: offsetField)
        }
        guard relative % alignment == 0 else {
            throw KilnError.malformed("data offset \(relative) is not a multiple of the alignment \(alignment)", at: offsetField)
        }
        return Info(tensor: SourceTensor(name: name, type: type, shape: shape, byteCount: byteCount),
                    relativeOffset: relative, offsetField: offsetField)
    }

    /// Places each tensor in the file and checks the layout: every tensor inside the file and
    /// none overlapping another. Returns them in data order. (Gaps are allowed: ggml pads each
    /// tensor to the alignment.)
    private static func place(_ infos: [Info], dataOffset: Int, fileSize: Int) throws -> [(tensor: SourceTensor, offset: Int)] {
        var placed: [(info: Info, begin: Int, end: Int)] = []
        placed.reserveCapacity(infos.count)
        for info in infos {
            let location = "tensor '\(info.tensor.name)'"
            let begin: Int, end: Int
            do {
                begin = try Checked.add(dataOffset, info.relativeOffset, "data offset")
                end = try Checked.add(begin, info.tensor.byteCount, "data end")
            } catch var error as KilnError {
                error = error.at(location)
                if error.offset == nil { error.offset = info.offsetField }
                throw error
            }
            guard end <= fileSize else {
                throw KilnError.malformed(
                    "data [\(begin), \(end)) lies past the end of the file (\(fileSize) bytes; truncated?)",
                    at: info.offsetField, location)
            }
            placed.append((info, begin, end))
        }
        // Stable: tensors at the same offset (only possible when empty) keep their info order.
        let ordered = placed.enumerated().sorted { ($0.element.begin, $0.offset) < ($1.element.begin, $1.offset) }.map(\.element)
        var previous: (name: String, end: Int)?
        for entry in ordered where entry.end > entry.begin {
            if let previous, entry.begin < previous.end {
                throw KilnError.malformed(
                    "data [\(entry.begin), \(entry.end)) overlaps tensor '\(previous.name)', which ends at \(previous.end)",
                    at: entry.info.offsetField, "tensor '\(entry.info.tensor.name)'")
            }
            previous = (entry.info.tensor.name, entry.end)
        }
        return ordered.map { ($0.info.tensor, $0.begin) }
    }
}
