import Foundation

/// An open `.kiln` file: the header parsed and validated, tensors served as views into the
/// memory mapping. Opening reads the preamble and header only, so it costs the same for any
/// size of model. Pointers handed out stay valid as long as this object lives.
public final class KilnFile: @unchecked Sendable {
    // Sendable: all stored state is immutable except `decompressed`, which is guarded by `lock`.
    /// The path the file was opened with.
    public let path: String
    /// The format's major version in the file (readers refuse a major version they do not know).
    public let majorVersion: UInt16
    /// The format's minor version (additions a reader of the same major version may ignore).
    public let minorVersion: UInt16
    /// The header's metadata: `model.config`, `tokenizer.*`, `provenance.*` and any other
    /// keys the writer stored (docs/FORMAT.md lists the conventional ones).
    public let metadata: [String: MetadataValue]
    /// Tensors in table order.
    public let tensors: [TensorInfo]
    package let mapping: MappedFile
    private let index: [String: Int]
    private let lock = NSLock()
    private var decompressed: [String: OwnedBytes] = [:]

    /// Maps the file and parses and validates its preamble and header (the header checksum
    /// included). Tensor data is not read: ``verify(threads:progress:)`` checks it.
    ///
    /// - Throws: ``KilnError``: `.io` if the file cannot be opened or mapped; `.malformed`,
    ///   `.unsupported` or `.checksum` naming the field and byte offset when it is not a valid
    ///   `.kiln` file this version reads.
    public convenience init(path: String) throws {
        try self.init(mapping: try MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws {
        self.mapping = mapping
        path = mapping.path
        let header = try withFileContext(mapping.path) { try KilnHeader.parse(mapping.bytes) }
        majorVersion = header.major
        minorVersion = header.minor
        metadata = header.metadata
        tensors = header.tensors
        index = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
    }

    /// The record of the tensor called `name`, or nil if the file has none.
    public func tensor(named name: String) -> TensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The record of the tensor called `name`.
    ///
    /// - Throws: ``KilnError`` (`.usage`) if the file has no such tensor.
    public func info(_ name: String) throws -> TensorInfo {
        guard let info = tensor(named: name) else {
            throw KilnError(.usage, "no tensor named '\(name)'", file: path)
        }
        return info
    }

    /// The tensor's bytes as stored in the file, before any decompression: a view into the mapping.
    package func storedBytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[info.offset..<(info.offset + info.storedLength)])
    }

    /// The tensor's bytes: a view into the mapping when stored uncompressed (no copy), or memory
    /// this file owns, decompressed on first use and kept. Either way the pointer is valid as
    /// long as this `KilnFile` lives.
    ///
    /// - Throws: ``KilnError`` (`.malformed`) naming the tensor and offset if a compressed
    ///   tensor does not decompress to its length.
    public func bytes(_ info: TensorInfo) throws -> UnsafeRawBufferPointer {
        guard info.compression != .none else { return storedBytes(info) }
        lock.lock()
        defer { lock.unlock() }
        if let cached = decompressed[info.name] { return cached.buffer }
        let owned = try decompress(info)
        decompressed[info.name] = owned
        return owned.buffer
    }

    /// The bytes of the tensor called `name`: ``bytes(_:)-(TensorInfo)`` after looking it up.
    ///
    /// - Throws: ``KilnError`` (`.usage`) if there is no such tensor, or as ``bytes(_:)-(TensorInfo)``.
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        try bytes(try info(name))
    }

    /// The tensor's bytes for one pass over them (comparing, hashing): a view into the mapping
    /// when stored raw, or freshly decompressed memory that is freed with the result rather
    /// than kept in this file's cache, so streaming over a compressed file stays bounded.
    package func transientData(_ info: TensorInfo) throws -> TensorData {
        guard info.compression != .none else { return TensorData(bytes: storedBytes(info), owner: self) }
        return TensorData(try decompress(info))
    }

    /// An f32 tensor's values, without copying; valid as long as this `KilnFile` lives.
    ///
    /// - Throws: ``KilnError`` (`.usage`) if there is no such tensor or it is not f32.
    public func floats(_ name: String) throws -> UnsafeBufferPointer<Float> {
        try typedView(name, .f32, as: Float.self)
    }

    /// An f16 or bf16 tensor's raw 16-bit patterns, without copying; valid as long as this
    /// `KilnFile` lives.
    ///
    /// - Throws: ``KilnError`` (`.usage`) if there is no such tensor or it is neither f16 nor bf16.
    public func halfBits(_ name: String) throws -> UnsafeBufferPointer<UInt16> {
        let info = try info(name)
        guard info.type == .f16 || info.type == .bf16 else {
            throw KilnError(.usage, "tensor is \(info.type.name), expected f16 or bf16", file: path, location: "tensor '\(name)'")
        }
        return try bytes(info).bindMemory(to: UInt16.self)
    }

    /// Any tensor's values decoded to f32 (a copy), row-major; quantised types are dequantised
    /// exactly as the kernels read them.
    ///
    /// - Throws: ``KilnError`` (`.usage`) if there is no such tensor, or as ``bytes(_:)-(TensorInfo)``.
    public func dequantized(_ name: String) throws -> [Float] {
        let info = try info(name)
        return try info.type.dequantize(try bytes(info), shape: info.shape)
    }

    private func typedView<T>(_ name: String, _ type: ElementType, as: T.Type) throws -> UnsafeBufferPointer<T> {
        let info = try info(name)
        guard info.type == type else {
            throw KilnError(.usage, "tensor is \(info.type.name), expected \(type.name)", file: path, location: "tensor '\(name)'")
        }
        // Tensor data is 64-byte aligned (format rule), so binding is safe.
        return try bytes(info).bindMemory(to: T.self)
    }

    /// Decompresses a tensor into new memory (not cached).
    func decompress(_ info: TensorInfo) throws -> OwnedBytes {
        let output = try OwnedBytes(count: info.length)
        let stored = storedBytes(info)
        do {
            switch info.filter {
            case .none:
                try TensorCompression.zstdDecompress(stored, into: output.mutableBuffer)
            case .byteShuffle:
                let planes = try OwnedBytes(count: info.length)
                try TensorCompression.zstdDecompress(stored, into: planes.mutableBuffer)
                planes.withBytes { TensorCompression.unshuffle($0, width: info.type.scalarBytes!, into: output.mutableBuffer) }
            }
        } catch let error as KilnError {
            var e = error.inFile(path).at("tensor '\(info.name)'")
            if e.offset == nil { e.offset = UInt64(info.offset) }
            throw e
        }
        return output
    }
}
