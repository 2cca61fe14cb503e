/// A 64-byte-aligned heap buffer that frees itself: tensors that cannot be views into a mapping
/// (decompressed, converted or copied for alignment) live in one of these.
public final class OwnedBytes: @unchecked Sendable {
    // Sendable: written once by its creator before being shared, read-only afterwards.
    /// The start of the buffer, 64-byte aligned; valid until this object is freed.
    public let pointer: UnsafeMutableRawPointer
    /// The buffer's length in bytes.
    public let count: Int

    /// Allocates `count` uninitialised bytes: write them before anyone reads them. Throws
    /// (instead of aborting) when the system refuses the memory: sizes here often come from a
    /// file (an inflated member, a converted tensor); `purpose` names the buffer in the error.
    public init(count: Int, for purpose: @autoclosure () -> String = "a buffer") throws {
        pointer = try Allocation.bytes(count, for: purpose())
        self.count = count
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

    deinit { Allocation.free(pointer) }
}
