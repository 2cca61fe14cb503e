/// One tensor as a source checkpoint describes it, before its data is read.
public struct SourceTensor: Sendable, Equatable {
    public let name: String
    public let type: ElementType
    /// Outermost dimension first.
    public let shape: [Int]
    public let byteCount: Int

    public init(name: String, type: ElementType, shape: [Int], byteCount: Int) {
        self.name = name
        self.type = type
        self.shape = shape
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A tensor's bytes: a view into a mapping (kept alive by `owner`) or memory of its own.
public struct TensorData: @unchecked Sendable {
    // Sendable: the bytes are immutable and `owner` keeps them alive.
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject

    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
    }

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
