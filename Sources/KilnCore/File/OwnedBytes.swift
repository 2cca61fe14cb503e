/// A 64-byte-aligned heap buffer that frees itself: tensors that cannot be views into a mapping
/// (decompressed, converted or copied for alignment) live in one of these.
public final class OwnedBytes: @unchecked Sendable {
    // Sendable: written once by its creator before being shared, read-only afterwards.
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    public var mutableBuffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }

    /// Runs `body` with the bytes, keeping this object alive until it returns. Prefer this to
    /// `buffer` whenever the object is a temporary: Swift may free an object after its last use.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(buffer) }
    }

    deinit { pointer.deallocate() }
}
