/// A 64-byte-aligned heap buffer that frees itself: tensors that cannot be views into a mapping
/// (decompressed, converted or copied for alignment) live in one of these.
public final class OwnedBytes: @unchecked Sendable {
    // Sendable: written once by its creator before being shared, read-only afterwards.
    /// The start of the buffer, 64-byte aligned; valid until this object is freed.
    public let pointer: UnsafeMutableRawPointer
    /// The buffer's length in bytes.
    public let count: Int

    /// Allocates `count` uninitialised bytes: write them before anyone reads them.
    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    /// The bytes, read-only; valid only while this object lives (see ``withBytes(_:)``).
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    /// The bytes, for filling them in; valid only while this object lives.
    public var mutableBuffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }

    /// Runs `body` with the bytes, keeping this object alive until it returns. Prefer this to
    /// `buffer` whenever the object is a temporary: Swift may free an object after its last use.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(buffer) }
    }

    deinit { pointer.deallocate() }
}
