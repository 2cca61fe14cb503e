import KilnCore

/// A NumPy `.npy` file (one array, named after the file) or `.npz` archive (one array per
/// `<name>.npy` member, as `numpy.savez` / `savez_compressed` write them).
///
/// C-order little-endian arrays in a plain `.npy` or a stored member are zero-copy views.
/// Fortran-order arrays are transposed into C order, and big-endian ones byte-swapped, into
/// memory Kiln owns. Deflated members are inflated when their tensor is asked for, into a
/// buffer whose size was checked against the array's header at open.
package final class NumPyFile: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    enum Source {
        /// The array (header included) starts at this absolute offset of the mapping.
        case mapped(Int)
        case deflated(ZipArchive, ZipArchive.Entry)
    }

    struct StoredArray {
        let header: NpyHeader
        let source: Source
    }

    package let path: String
    package let mapping: MappedFile
    package let isArchive: Bool
    package let sourceTensors: [SourceTensor]
    package let metadata: [String: MetadataValue]
    private let arrays: [String: StoredArray]
    package var formatName: String { "numpy" }
    package var paths: [String] { [path] }

    package convenience init(path: String) throws {
        try self.init(mapping: try MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws {
        self.mapping = mapping
        path = mapping.path
        let parsed = try withFileContext(mapping.path) { try Self.parse(mapping) }
        isArchive = parsed.isArchive
        arrays = Dictionary(uniqueKeysWithValues: parsed.arrays.map { ($0.name, $0.array) })
        sourceTensors = parsed.arrays.map { SourceTensor(name: $0.name, type: $0.array.header.type, shape: $0.array.header.shape, byteCount: $0.array.header.byteCount) }
        var metadata: [String: MetadataValue] = [:]
        for entry in parsed.arrays where entry.array.header.descr.first == ">" || entry.array.header.fortranOrder {
            metadata["numpy.\(entry.name).descr"] = .string(entry.array.header.descr)
            metadata["numpy.\(entry.name).fortran_order"] = .bool(entry.array.header.fortranOrder)
        }
        self.metadata = metadata
    }

    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let array = arrays[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: path)
        }
        let header = array.header
        let whole: TensorData
        switch array.source {
        case .mapped(let start):
            whole = TensorData(bytes: UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + header.dataOffset + header.byteCount)]), owner: mapping)
        case .deflated(let archive, let entry):
            whole = try withFileContext(path) { try archive.contents(entry) }
        }
        let bytes = UnsafeRawBufferPointer(rebasing: whole.bytes[header.dataOffset..<(header.dataOffset + header.byteCount)])
        let transpose = header.fortranOrder && header.shape.count > 1
        if !transpose && !header.byteSwap { return TensorData(bytes: bytes, owner: whole.owner) }
        let strides = transpose ? StridedCopy.fortranOrderStrides(header.shape) : StridedCopy.cOrderStrides(header.shape)
        let owned = try withExtendedLifetime(whole.owner) {
            try StridedCopy.gather(bytes, itemSize: header.type.blockBytes, offset: 0, shape: header.shape, strides: strides,
                               byteSwap: header.byteSwap, byteCount: header.byteCount)
        }
        return TensorData(owned)
    }

    // MARK: Parsing

    static func parse(_ mapping: MappedFile) throws -> (isArchive: Bool, arrays: [(name: String, array: StoredArray)]) {
        let bytes = mapping.bytes
        if bytes.starts(with: NpyHeader.magic) {
            let header = try NpyHeader(bytes, baseOffset: 0, available: bytes.count)
            let file = mapping.path.split(separator: "/").last.map(String.init) ?? mapping.path
            let name = file.hasSuffix(".npy") ? String(file.dropLast(4)) : file
            return (false, [(name, StoredArray(header: header, source: .mapped(0)))])
        }
        let archive = try ZipArchive(mapping: mapping)
        var arrays: [(name: String, array: StoredArray)] = []
        for entry in archive.entries where !entry.name.hasSuffix("/") {
            // numpy.load only treats `<name>.npy` members as arrays; anything else is not one.
            guard entry.name.hasSuffix(".npy") else {
                throw KilnError.malformed("member is not an .npy array; an .npz holds only <name>.npy members",
                                          at: UInt64(entry.recordOffset), "zip member '\(entry.name)'")
            }
            let name = String(entry.name.dropLast(4))
            do {
                arrays.append((name, try member(entry, archive)))
            } catch let error as KilnError {
                var e = error
                e.location = "array '\(name)'" + (error.location.map { " \($0)" } ?? "")
                throw e
            }
        }
        return (true, arrays)
    }

    static func member(_ entry: ZipArchive.Entry, _ archive: ZipArchive) throws -> StoredArray {
        let raw = archive.rawBytes(entry)
        if entry.isStored {
            return StoredArray(header: try NpyHeader(raw, baseOffset: UInt64(entry.dataOffset), available: entry.uncompressedSize),
                         source: .mapped(entry.dataOffset))
        }
        // Deflated: inflate only the header now. Its shape and dtype must account for the
        // member's declared size exactly, which is what the inflate buffer will be.
        let preamble = try ZipInflater.inflatePrefix(raw, count: NpyHeader.preambleLength, entry: entry)
        let end = try preamble.withUnsafeBytes { try NpyHeader.headerEnd($0, baseOffset: 0) }
        let headerBytes = try ZipInflater.inflatePrefix(raw, count: end, entry: entry)
        let header = try headerBytes.withUnsafeBytes { try NpyHeader($0, baseOffset: 0, available: entry.uncompressedSize) }
        return StoredArray(header: header, source: .deflated(archive, entry))
    }
}
