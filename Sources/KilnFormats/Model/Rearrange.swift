import KilnCore

/// Byte rearrangements shared by reading (`TensorTransform`) and writing (`ExportStep`).
enum Rearrange {
    /// A `rows × cols` matrix of `width`-byte elements transposed into new memory, in tiles so
    /// both sides stay in cache for large matrices.
    static func transpose(_ source: UnsafeRawBufferPointer, rows: Int, cols: Int, width: Int) -> OwnedBytes {
        let output = OwnedBytes(count: source.count)
        guard let input = source.baseAddress else { return output }
        let out = output.pointer
        let tile = 32
        for r0 in stride(from: 0, to: rows, by: tile) {
            for c0 in stride(from: 0, to: cols, by: tile) {
                for r in r0..<min(r0 + tile, rows) {
                    for c in c0..<min(c0 + tile, cols) {
                        (out + (c * rows + r) * width).copyMemory(from: input + (r * cols + c) * width, byteCount: width)
                    }
                }
            }
        }
        return output
    }
}
