/// What a file says about one tensor, before any of its data is read.
public struct TensorInfo: Sendable, Equatable {
    /// How the stored bytes are compressed (the raw value is the byte in the tensor record).
    public enum Compression: UInt8, Sendable {
        /// Stored as is: the tensor is a view into the file's mapping.
        case none = 0
        /// A zstd frame, decompressed into memory when read.
        case zstd = 1
    }

    /// A reversible transform applied before compression.
    public enum Filter: UInt8, Sendable {
        /// No transform.
        case none = 0
        /// Bytes regrouped into planes by their position within an element (all first bytes,
        /// then all second bytes, …): f16/f32 exponents then sit together and compress better.
        case byteShuffle = 1
    }

    /// The tensor's name, unique in the file (canonical files use llama.cpp's names, such as
    /// `blk.0.attn_q.weight`).
    public let name: String
    /// How the elements are stored.
    public let type: ElementType
    /// Dimensions, outermost first (row-major: the last dimension is contiguous in memory).
    public let shape: [Int]
    /// Absolute byte offset of the stored bytes in the file.
    public let offset: Int
    /// Bytes stored in the file (compressed length when compressed).
    public let storedLength: Int
    /// Bytes of the tensor once decompressed: `type.byteCount(shape:)`.
    public let length: Int
    /// XXH64 (seed 0) of the decompressed bytes.
    public let checksum: UInt64
    /// How the stored bytes are compressed.
    public let compression: Compression
    /// The transform applied before compression, undone after decompressing.
    public let filter: Filter

    /// The number of values: the product of ``shape`` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}
