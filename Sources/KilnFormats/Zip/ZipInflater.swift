import CZlib
import KilnCore

/// Raw deflate (RFC 1951) through zlib, for deflated ZIP members (`numpy.savez_compressed`).
/// Output always goes into a buffer sized from the central directory, so a member can never
/// make Kiln allocate more than it declared; a stream that inflates to any other size is an
/// error, and so is one whose CRC-32 does not match.
enum ZipInflater {
    /// Deflate cannot compress better than 1032:1 (its longest match, 258 bytes, costs at least
    /// two bits), so a member declaring more is hostile; checked before allocating.
    static let maxRatio = 1032

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return UInt32(truncatingIfNeeded: crc32_z(0, base.assumingMemoryBound(to: Bytef.self), bytes.count))
    }

    /// Inflates a whole member into owned memory of exactly its declared size.
    static func inflate(_ source: UnsafeRawBufferPointer, entry: ZipArchive.Entry) throws -> OwnedBytes {
        let location = "zip member '\(entry.name)'"
        let (limit, overflow) = (source.count + 1).multipliedReportingOverflow(by: maxRatio)
        guard overflow || entry.uncompressedSize <= limit else {
            throw KilnError.malformed(
                "declares \(entry.uncompressedSize) bytes inflated from \(source.count) compressed bytes, more than deflate can expand (\(maxRatio):1)",
                at: UInt64(entry.recordOffset), location)
        }
        // A member may honestly declare more than this process may hold (4.8 GB under a 4 GB
        // `ulimit -v`): refused here as an error naming the member, not an abort.
        let output: OwnedBytes
        do {
            output = try OwnedBytes(count: entry.uncompressedSize, for: "the inflated bytes")
        } catch var error as KilnError {
            error.offset = error.offset ?? UInt64(entry.dataOffset)
            throw error.at(location)
        }
        let produced = try run(source, into: output.mutableBuffer, wholeStream: true, entry: entry)
        guard produced == entry.uncompressedSize else {
            throw KilnError.malformed("inflates to \(produced) bytes but the central directory declares \(entry.uncompressedSize)",
                                      at: UInt64(entry.dataOffset), location)
        }
        let actual = crc32(output.buffer)
        guard actual == entry.crc32 else {
            throw KilnError(.checksum, "CRC-32 of the inflated bytes is \(hex32(actual)) but the central directory says \(hex32(entry.crc32))",
                            location: location, offset: UInt64(entry.dataOffset))
        }
        return output
    }

    /// Inflates only the first `count` bytes (or fewer, if the member is shorter): enough to
    /// read a header without inflating the whole member.
    static func inflatePrefix(_ source: UnsafeRawBufferPointer, count: Int, entry: ZipArchive.Entry) throws -> [UInt8] {
        let wanted = min(count, entry.uncompressedSize)
        var bytes = [UInt8](repeating: 0, count: wanted)
        let produced = try bytes.withUnsafeMutableBytes { try run(source, into: $0, wholeStream: false, entry: entry) }
        return Array(bytes[0..<produced])
    }

    /// Runs zlib until the stream ends or `destination` is full. With `wholeStream`, a stream
    /// with more output than `destination` holds, or that stops before its end, is an error.
    private static func run(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                            wholeStream: Bool, entry: ZipArchive.Entry) throws -> Int {
        let location = "zip member '\(entry.name)'"
        var stream = z_stream()
        guard kiln_inflate_init_raw(&stream) == Z_OK else {
            throw KilnError(.io, "zlib could not start inflating", location: location)
        }
        defer { inflateEnd(&stream) }
        var consumed = 0, produced = 0
        var scratch: UInt8 = 0
        while true {
            let before = (consumed, produced)
            // avail_in/avail_out are 32-bit: feed large members in pieces.
            let inChunk = min(source.count - consumed, Int(UInt32.max))
            let outChunk = min(destination.count - produced, Int(UInt32.max))
            let status: Int32 = withUnsafeMutablePointer(to: &scratch) { scratchPointer in
                stream.next_in = inChunk > 0
                    ? UnsafeMutablePointer(mutating: (source.baseAddress! + consumed).assumingMemoryBound(to: Bytef.self)) : nil
                stream.avail_in = UInt32(inChunk)
                if outChunk > 0 {
                    stream.next_out = (destination.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = UInt32(outChunk)
                } else {
                    // Output is full: offer one spare byte to learn whether the stream has more.
                    stream.next_out = scratchPointer
                    stream.avail_out = 1
                }
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            consumed += inChunk - Int(stream.avail_in)
            let wrote = (outChunk > 0 ? outChunk : 1) - Int(stream.avail_out)
            if outChunk == 0 && wrote > 0 {
                if !wholeStream { return produced }
                throw KilnError.malformed("inflates to more than the \(destination.count) bytes the central directory declares",
                                          at: UInt64(entry.dataOffset), location)
            }
            produced += outChunk > 0 ? wrote : 0
            if status != Z_STREAM_END && before == (consumed, produced) && !(!wholeStream && produced == destination.count) {
                // zlib made no progress: the stream cannot go on (truncated or corrupt).
                throw KilnError.malformed("deflate stream ends early: \(source.count) compressed bytes give only \(produced) of \(entry.uncompressedSize)",
                                          at: UInt64(entry.dataOffset), location)
            }
            switch status {
            case Z_STREAM_END:
                return produced
            case Z_OK:
                if !wholeStream && produced == destination.count { return produced }
                continue
            case Z_BUF_ERROR:
                if !wholeStream && produced == destination.count { return produced }
                if consumed == source.count {
                    throw KilnError.malformed("deflate stream ends early: \(source.count) compressed bytes give only \(produced) of \(entry.uncompressedSize)",
                                              at: UInt64(entry.dataOffset), location)
                }
                continue
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw KilnError.malformed("deflate data is corrupt (\(reason)) after \(consumed) compressed bytes",
                                          at: UInt64(entry.dataOffset + consumed), location)
            }
        }
    }
}
