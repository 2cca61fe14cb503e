/// A growable little-endian byte buffer for building headers (`.kiln`, GGUF).
package struct ByteWriter: Sendable {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func append(contentsOf other: some Sequence<UInt8>) {
        bytes.append(contentsOf: other)
    }

    /// A `u64` byte length followed by the UTF-8 bytes (the string encoding of `.kiln` and GGUF).
    package mutating func appendString(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }
}
