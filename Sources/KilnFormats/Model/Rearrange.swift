import KilnCore

/// Byte rearrangements shared by reading (`TensorTransform`) and writing (`ExportStep`).
enum Rearrange {
    /// A `rows × cols` matrix of `width`-byte elements transposed into new memory, in tiles so
    /// both sides stay in cache for large matrices.
    static func transpose(_ source: UnsafeRawBufferPointer, rows: Int, cols: Int, width: Int) throws -> OwnedBytes {
        let output = try OwnedBytes(count: source.count)
        guard let input = source.baseAddress else { return output }
        TensorTransforms.gatherTransposed(input, rows: rows, cols: cols, width: width, columns: 0..<cols, into: output.pointer)
        return output
    }
}
