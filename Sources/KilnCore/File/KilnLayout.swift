/// The fixed numbers of the `.kiln` layout (docs/FORMAT.md §3, §6).
public enum KilnLayout {
    public static let magic: [UInt8] = Array("KILN".utf8)
    public static let byteOrderMark: UInt32 = 0x0A0B_0C0D
    public static let majorVersion: UInt16 = 1
    public static let minorVersion: UInt16 = 0
    public static let preambleSize = 64
    /// Bytes of the preamble covered by the header checksum (everything before it).
    public static let checksummedPreambleBytes = 56
    /// Every tensor starts at a multiple of this.
    public static let tensorAlignment = 64
    /// Tensors stored in at least `largeTensorThreshold` bytes start at a multiple of this.
    public static let largeTensorAlignment = 16_384
    public static let largeTensorThreshold = 1 << 20
    public static let headerAlignment = 64
    public static let maxDimensions = 8
    public static let maxMetadataDepth = 32

    /// The alignment a tensor of `storedLength` bytes needs.
    public static func alignment(forStoredLength storedLength: Int) -> Int {
        storedLength >= largeTensorThreshold ? largeTensorAlignment : tensorAlignment
    }
}
