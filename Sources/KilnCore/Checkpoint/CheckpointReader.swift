/// One tensor as a source checkpoint describes it, before its data is read.
public struct SourceTensor: Sendable, Equatable {
    /// The tensor's name as the checkpoint spells it (before any renaming to canonical names).
    public let name: String
    /// The element type as stored.
    public let type: ElementType
    /// Outermost dimension first.
    public let shape: [Int]
    /// The length of the tensor's bytes: `type.byteCount(shape: shape)`.
    public let byteCount: Int

    /// Describes a tensor; readers compute `byteCount` with ``ElementType/byteCount(shape:)``,
    /// which checks the shape against the type and for overflow.
    public init(name: String, type: ElementType, shape: [Int], byteCount: Int) {
        self.name = name
        self.type = type
        self.shape = shape
        self.byteCount = byteCount
    }

    /// The number of values: the product of ``shape``.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A tensor's bytes: a view into a mapping (kept alive by `owner`) or memory of its own.
public struct TensorData: @unchecked Sendable {
    // Sendable: the bytes are immutable and `owner` keeps them alive.
    /// The tensor's bytes; valid while ``owner`` lives, so keep the `TensorData` (not just the
    /// pointer) for as long as the bytes are used.
    public let bytes: UnsafeRawBufferPointer
    /// The object that keeps ``bytes`` alive: the reader whose mapping they point into, or an
    /// ``OwnedBytes`` holding a copy.
    public let owner: AnyObject

    /// Bytes kept alive by `owner`: for a view into a reader's mapping, pass the reader (or
    /// its ``MappedFile``).
    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
    }

    /// Bytes the tensor owns: `owned`'s buffer, freed when the last copy of this value goes.
    public init(_ owned: OwnedBytes) {
        self.init(bytes: owned.buffer, owner: owned)
    }
}

/// An open checkpoint of any format: its tensor list and metadata are read at open; tensor
/// data is read (or mapped) one tensor at a time, so memory stays bounded by one tensor.
public protocol CheckpointReader: AnyObject, Sendable {
    /// The format's short name (`safetensors`, `kiln`, …).
    var formatName: String { get }
    /// The files this checkpoint was read from.
    var paths: [String] { get }
    /// The source's own metadata, verbatim where the format has any.
    var metadata: [String: MetadataValue] { get }
    /// Tensors in the order they are stored (so reading them in order streams the file).
    var sourceTensors: [SourceTensor] { get }
    /// The bytes of one of ``sourceTensors``, exactly `tensor.byteCount` of them in
    /// `tensor.type`'s layout: a view into the file where possible, a converted copy where the
    /// format stores something else (big-endian, unaligned, compressed).
    ///
    /// - Throws: ``KilnError`` when the tensor is not this checkpoint's, or its stored bytes are
    ///   missing, truncated or do not decode.
    func data(_ tensor: SourceTensor) throws -> TensorData
    /// Says the tensor's bytes will not be read again soon, so a streaming conversion can drop
    /// the pages it has finished with and stay bounded by one tensor rather than the file.
    /// Views handed out earlier stay valid (pages are read again if touched).
    func release(_ tensor: SourceTensor)
}

extension CheckpointReader {
    public func release(_ tensor: SourceTensor) {}
}

extension KilnFile: CheckpointReader {
    public var formatName: String { "kiln" }
    public var paths: [String] { [path] }

    public var sourceTensors: [SourceTensor] {
        tensors.sorted { $0.offset < $1.offset }.map {
            SourceTensor(name: $0.name, type: $0.type, shape: $0.shape, byteCount: $0.length)
        }
    }

    /// Raw tensors are views into the mapping. Compressed ones are decompressed into memory
    /// owned by the result, not cached in the file, so streaming a compressed file through a
    /// conversion holds one decompressed tensor at a time.
    public func data(_ tensor: SourceTensor) throws -> TensorData {
        let info = try info(tensor.name)
        guard info.compression != .none else { return TensorData(bytes: storedBytes(info), owner: self) }
        return TensorData(try decompress(info))
    }

    public func release(_ tensor: SourceTensor) {
        guard let info = self.tensor(named: tensor.name), info.storedLength > 0 else { return }
        mapping.advise(.dontNeed, range: info.offset..<(info.offset + info.storedLength))
    }
}
