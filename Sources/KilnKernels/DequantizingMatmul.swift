import CKilnKernels
import KilnCore

/// The correct path for weight types without a kernel of their own (q5_0, q5_1, the GGUF
/// K-quants once registered, f64, integers): decode a chunk of rows to f32 through the type
/// registry, run the tier's f32 product on it, and scatter the results. Speed is the f32
/// kernel's plus the decoder's; memory is one chunk.
enum DequantizingMatmul {
    /// Rows per chunk: about 256 KB of f32, so the chunk stays in L2 while the product runs.
    static func chunkRows(cols: Int) -> Int { max(1, (1 << 16) / max(1, cols)) }

    static func run(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>, ops: OpaquePointer) {
        let base = w.rowMajorType
        let chunk = min(w.rows, chunkRows(cols: w.cols))
        let values = UnsafeMutablePointer<Float>.allocate(capacity: max(1, chunk * w.cols))
        let results = UnsafeMutablePointer<Float>.allocate(capacity: max(1, chunk * batch))
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, w.cols / base.blockElements * base.blockBytes), alignment: 16)
        defer {
            values.deallocate()
            results.deallocate()
            scratch.deallocate()
        }
        var r0 = 0
        while r0 < w.rows {
            let n = min(chunk, w.rows - r0)
            for r in 0..<n {
                w.withRowMajorRow(r0 + r, scratch: scratch) { base.decodeBlocks($0, blocks: w.cols / base.blockElements, into: values + r * w.cols) }
            }
            kiln_matmul(ops, Int32(KILN_WEIGHT_F32), values, Int64(n), Int64(w.cols), x, Int64(batch), results)
            for b in 0..<batch {
                (y + b * w.rows + r0).update(from: results + b * n, count: n)
            }
            r0 += n
        }
    }
}
