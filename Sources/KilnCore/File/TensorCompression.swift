import CZstd

/// Per-tensor compression for storage and transfer (docs/FORMAT.md §8): one zstd frame,
/// optionally after a byte-shuffle of multi-byte elements.
package enum TensorCompression {
    /// Compresses `bytes` into one zstd frame that records its content size and a frame checksum.
    package static func zstdCompress(_ bytes: UnsafeRawBufferPointer, level: Int32, threads: Int = 0) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw KilnError(.io, "zstd: cannot allocate a compression context") }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        if threads > 1 { ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads)) }
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress, bound, bytes.baseAddress, bytes.count)
        }
        guard ZSTD_isError(written) == 0 else {
            throw KilnError(.io, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses exactly one zstd frame that must hold exactly `destination.count` bytes.
    package static func zstdDecompress(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws {
        let frameSize = ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        guard ZSTD_isError(frameSize) == 0 else {
            throw KilnError.malformed("zstd frame is invalid: \(String(cString: ZSTD_getErrorName(frameSize)))")
        }
        guard frameSize == frame.count else {
            throw KilnError.malformed("stored bytes hold \(frame.count - frameSize) bytes beyond the zstd frame; expected exactly one frame")
        }
        let declared = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard declared == UInt64(destination.count) else {
            let what = declared == ZSTD_CONTENTSIZE_UNKNOWN ? "an unknown size" : (declared == ZSTD_CONTENTSIZE_ERROR ? "an invalid size" : "\(declared) bytes")
            throw KilnError.malformed("zstd frame declares \(what), expected \(destination.count)")
        }
        guard destination.count > 0 else { return }
        let written = ZSTD_decompress(destination.baseAddress, destination.count, frame.baseAddress, frame.count)
        guard ZSTD_isError(written) == 0 else {
            throw KilnError.malformed("zstd decompression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        guard written == destination.count else {
            throw KilnError.malformed("zstd frame decompressed to \(written) bytes, expected \(destination.count)")
        }
    }

    /// Regroups bytes into planes: `output[p * n + i] = input[i * width + p]`.
    package static func shuffle(_ input: UnsafeRawBufferPointer, width: Int, into output: UnsafeMutableRawBufferPointer) {
        precondition(input.count == output.count && width > 0 && input.count % width == 0)
        let n = input.count / width
        let source = input.bindMemory(to: UInt8.self)
        let destination = output.bindMemory(to: UInt8.self)
        for plane in 0..<width {
            let base = plane * n
            for i in 0..<n { destination[base + i] = source[i * width + plane] }
        }
    }

    /// Undoes `shuffle`.
    package static func unshuffle(_ input: UnsafeRawBufferPointer, width: Int, into output: UnsafeMutableRawBufferPointer) {
        precondition(input.count == output.count && width > 0 && input.count % width == 0)
        let n = input.count / width
        let source = input.bindMemory(to: UInt8.self)
        let destination = output.bindMemory(to: UInt8.self)
        for plane in 0..<width {
            let base = plane * n
            for i in 0..<n { destination[i * width + plane] = source[base + i] }
        }
    }
}
