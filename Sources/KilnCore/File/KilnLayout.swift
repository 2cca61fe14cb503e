/// The fixed numbers of the `.kiln` layout (docs/FORMAT.md §3, §6).
package enum KilnLayout {
    package static let magic: [UInt8] = Array("KILN".utf8)
    package static let byteOrderMark: UInt32 = 0x0A0B_0C0D
    package static let majorVersion: UInt16 = 1
    package static let minorVersion: UInt16 = 0
    package static let preambleSize = 64
    /// Bytes of the preamble covered by the header checksum (everything before it).
    package static let checksummedPreambleBytes = 56
    /// Every tensor starts at a multiple of this.
    package static let tensorAlignment = 64
    /// Tensors stored in at least `largeTensorThreshold` bytes start at a multiple of this.
    package static let largeTensorAlignment = 16_384
    package static let largeTensorThreshold = 1 << 20
    package static let headerAlignment = 64
    package static let maxDimensions = 8
    package static let maxMetadataDepth = 32

    /// The alignment a tensor of `storedLength` bytes needs.
    package static func alignment(forStoredLength storedLength: Int) -> Int {
        storedLength >= largeTensorThreshold ? largeTensorAlignment : tensorAlignment
    }
}
