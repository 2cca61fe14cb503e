import Foundation

/// Writes a `.kiln` file one tensor at a time. Memory is bounded by the tensor in hand: each
/// tensor goes to disk as soon as it is added, and the header is written last. Output goes to a
/// temporary file beside the destination, which `finish()` flushes and renames into place; if
/// the writer is dropped unfinished (or the process dies), nothing appears under the final name.
public final class KilnWriter {
    /// How a tensor is stored.
    public enum Storage: Sendable, Equatable {
        /// Raw bytes, served zero-copy from the mapping when read.
        case raw
        /// zstd at `level`; multi-byte elements are byte-shuffled when that compresses better.
        /// Falls back to raw when compression saves less than 2%.
        case zstd(level: Int32)
    }

    /// The final path, where the file appears when ``finish()`` succeeds.
    public var path: String { output.path }
    package var temporaryPath: String { output.temporaryPath }
    /// The metadata written into the header by ``finish()``; set it any time before then.
    public var metadata: [String: MetadataValue] = [:]
    /// The tensors added so far, in file order, with their offsets and checksums.
    public private(set) var tensors: [TensorInfo] = []
    private let output: AtomicOutputFile
    private var names = Set<String>()
    private var finished = false

    /// Creates the temporary file beside `path`.
    ///
    /// - Throws: ``KilnError`` (`.io`) if the destination's directory is not writable.
    public init(path: String) throws {
        output = try AtomicOutputFile(path: path)
        // The placeholder preamble is zeros, so a partially written file is never a valid .kiln.
        try output.pad(to: KilnLayout.preambleSize)
    }

    /// Writes one tensor. `bytes` must be exactly the tensor's bytes for `type` and `shape`
    /// (outermost dimension first); they are copied to the file before this returns, so the
    /// caller may free them afterwards. Returns the tensor's record (offset, checksum).
    ///
    /// - Throws: ``KilnError`` (`.usage`) for an empty or repeated name, more than 8
    ///   dimensions, or a byte count that does not match the shape; (`.io`) if writing fails.
    @discardableResult
    public func add(name: String, type: ElementType, shape: [Int], bytes: UnsafeRawBufferPointer,
                    storage: Storage = .raw) throws -> TensorInfo {
        precondition(!finished, "KilnWriter used after finish()")
        guard !name.isEmpty else { throw KilnError(.usage, "tensor names must not be empty", file: path) }
        guard !names.contains(name) else {
            throw KilnError(.usage, "tensor '\(name)' was added twice", file: path)
        }
        guard shape.count <= KilnLayout.maxDimensions else {
            throw KilnError(.usage, "\(shape.count) dimensions, at most \(KilnLayout.maxDimensions) allowed", file: path, location: "tensor '\(name)'")
        }
        let length = try type.byteCount(shape: shape)
        guard length == bytes.count else {
            throw KilnError(.usage, "got \(bytes.count) bytes, but shape \(shape) of \(type.name) needs \(length)",
                            file: path, location: "tensor '\(name)'")
        }
        let encoded = try encode(bytes, type: type, storage: storage)
        let stored = encoded.bytes.map { UnsafeRawBufferPointer(start: $0.pointer, count: $0.count) } ?? bytes

        let offset = try Checked.alignUp(output.position, to: KilnLayout.alignment(forStoredLength: stored.count))
        try output.pad(to: offset)
        let checksum: UInt64
        if let encodedBytes = encoded.bytes {
            checksum = XXH64.hash(bytes)
            try withExtendedLifetime(encodedBytes) { try output.write(stored) }
        } else {
            checksum = try writeHashing(bytes)
        }

        let info = TensorInfo(
            name: name, type: type, shape: shape, offset: offset, storedLength: stored.count, length: length,
            checksum: checksum, compression: encoded.compression, filter: encoded.filter)
        names.insert(name)
        tensors.append(info)
        return info
    }

    /// Writes the header, flushes the file to disk and renames it to `path`. Call it once; the
    /// writer cannot be used afterwards.
    ///
    /// - Throws: ``KilnError`` (`.io`) if writing, flushing or renaming fails; the temporary
    ///   file is deleted and nothing appears under `path`.
    public func finish() throws {
        precondition(!finished, "KilnWriter.finish() called twice")
        finished = true
        do {
            let headerOffset = try Checked.alignUp(output.position, to: KilnLayout.headerAlignment)
            try output.pad(to: headerOffset)
            var header = ByteWriter()
            MetadataCodec.encodeEntries(metadata, into: &header)
            header.append(UInt64(tensors.count))
            for info in tensors { Self.encodeRecord(info, into: &header) }
            try output.write(header.bytes)

            var preamble = ByteWriter()
            preamble.append(contentsOf: KilnLayout.magic)
            preamble.append(KilnLayout.byteOrderMark)
            preamble.append(KilnLayout.majorVersion)
            preamble.append(KilnLayout.minorVersion)
            preamble.append(UInt32(0))
            preamble.append(UInt64(headerOffset))
            preamble.append(UInt64(header.bytes.count))
            preamble.append(contentsOf: [UInt8](repeating: 0, count: 24))
            var hasher = XXH64()
            preamble.bytes.withUnsafeBytes { hasher.update($0) }
            header.bytes.withUnsafeBytes { hasher.update($0) }
            preamble.append(hasher.digest())
            try preamble.bytes.withUnsafeBytes { try output.overwrite($0, at: 0) }
            try output.commit()
        } catch {
            output.abandon()
            throw error
        }
    }

    /// Deletes the temporary file. Called automatically when an unfinished writer is dropped.
    public func abandon() {
        output.abandon()
        finished = true
    }

    /// Writes raw tensor bytes and returns their XXH64, a piece at a time: each piece is still in
    /// the CPU's cache when `write` copies it, so the source is read from memory once rather than
    /// once to hash and again to write (a 64 MiB tensor does not fit in any cache). Bytes
    /// written and checksum are those of one `write` of the whole tensor after `XXH64.hash`.
    private func writeHashing(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        var hasher = XXH64()
        var start = 0
        while start < bytes.count {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<min(bytes.count, start + Self.hashingPiece)])
            hasher.update(piece)
            try output.write(piece)
            start += piece.count
        }
        return hasher.digest()
    }

    /// Half of a typical 2 MiB per-core L2: large enough that `write`'s per-call cost is noise.
    static let hashingPiece = 1 << 20

    private struct Encoded {
        var bytes: OwnedBytes?
        var compression: TensorInfo.Compression = .none
        var filter: TensorInfo.Filter = .none
    }

    private func encode(_ bytes: UnsafeRawBufferPointer, type: ElementType, storage: Storage) throws -> Encoded {
        guard case .zstd(let level) = storage, bytes.count > 0 else { return Encoded() }
        let width = type.scalarBytes ?? 1
        var filter = TensorInfo.Filter.none
        var input = bytes
        var shuffled: OwnedBytes?
        if width > 1, Self.shufflePays(bytes, width: width, level: level) {
            let planes = try OwnedBytes(count: bytes.count)
            TensorCompression.shuffle(bytes, width: width, into: planes.mutableBuffer)
            shuffled = planes
            input = planes.buffer
            filter = .byteShuffle
        }
        let threads = bytes.count >= 4 << 20 ? ProcessInfo.processInfo.activeProcessorCount : 0
        let frame = try withExtendedLifetime(shuffled) {
            try TensorCompression.zstdCompress(input, level: level, threads: threads)
        }
        // Not worth a copy on every read unless it saves at least 2%.
        guard frame.count * 50 < bytes.count * 49 else { return Encoded() }
        let owned = try OwnedBytes(count: frame.count)
        frame.withUnsafeBytes { owned.mutableBuffer.copyMemory(from: $0) }
        return Encoded(bytes: owned, compression: .zstd, filter: filter)
    }

    /// Measures, on a sample, whether byte-shuffling before zstd gives a smaller result.
    private static func shufflePays(_ bytes: UnsafeRawBufferPointer, width: Int, level: Int32) -> Bool {
        let sampleLength = min(bytes.count, 256 << 10) / width * width
        guard sampleLength > 0 else { return false }
        let sample = UnsafeRawBufferPointer(rebasing: bytes[0..<sampleLength])
        guard let planes = try? OwnedBytes(count: sampleLength) else { return false }
        TensorCompression.shuffle(sample, width: width, into: planes.mutableBuffer)
        guard let plain = try? TensorCompression.zstdCompress(sample, level: level),
              let filtered = try? planes.withBytes({ try TensorCompression.zstdCompress($0, level: level) })
        else { return false }
        return filtered.count < plain.count
    }

    static func encodeRecord(_ info: TensorInfo, into out: inout ByteWriter) {
        out.appendString(info.name)
        out.append(info.type.id)
        out.append(UInt32(info.shape.count))
        for dimension in info.shape { out.append(UInt64(dimension)) }
        out.append(UInt64(info.offset))
        out.append(UInt64(info.storedLength))
        out.append(info.checksum)
        out.append(info.compression.rawValue)
        out.append(info.filter.rawValue)
    }
}
