/// What a file says about one tensor, before any of its data is read.
public struct TensorInfo: Sendable, Equatable {
    public enum Compression: UInt8, Sendable {
        case none = 0
        case zstd = 1
    }

    /// A reversible transform applied before compression.
    public enum Filter: UInt8, Sendable {
        case none = 0
        /// Bytes regrouped into planes by their position within an element (all first bytes,
        /// then all second bytes, …): f16/f32 exponents then sit together and compress better.
        case byteShuffle = 1
    }

    public let name: String
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
    public let compression: Compression
    public let filter: Filter

    public var elementCount: Int { shape.reduce(1, *) }
}
