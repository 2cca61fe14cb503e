import KilnCore

extension Kernels {
    /// The layout the kernels stream fastest for `source`, written by the converter: `q8_0x8`,
    /// `q4_0x8` or `q4_1x8` for a 2-D q8_0, q4_0 or q4_1 matrix with at least 8 rows (smaller ones
    /// would only gain padding). Returns nil when the type has no interleaved layout (or the copy cannot be allocated). Rows that
    /// are not a multiple of 8 are padded with zero blocks (docs/FORMAT.md §7.4).
    package static func interleave(_ source: ElementType, rows: Int, cols: Int, data: UnsafeRawPointer) -> (ElementType, OwnedBytes)? {
        guard let target = source.interleavedVariant, let interleaving = target.interleaving, rows >= interleaving.rows,
              cols > 0, cols % source.blockElements == 0, let count = try? target.byteCount(shape: [rows, cols])
        else { return nil }
        // No memory for the copy is not an error: the row-major blocks run as they are (slower).
        guard let bytes = try? OwnedBytes(count: count, for: "an interleaved copy") else { return nil }
        interleaving.interleave(data, rows: rows, cols: cols, into: bytes.pointer)
        return (target, bytes)
    }

    /// The inverse of `interleave`: the row-major base type (for GGUF export or tools that
    /// expect it), padding dropped. Returns nil for a type that is not interleaved.
    package static func deinterleave(_ type: ElementType, rows: Int, cols: Int, data: UnsafeRawPointer) -> (ElementType, OwnedBytes)? {
        guard let interleaving = type.interleaving, cols % type.blockElements == 0,
              let count = try? interleaving.base.byteCount(shape: [rows, cols])
        else { return nil }
        guard let bytes = try? OwnedBytes(count: count, for: "a row-major copy") else { return nil }
        interleaving.deinterleave(data, rows: rows, cols: cols, into: bytes.pointer)
        return (interleaving.base, bytes)
    }

    /// Row `row` of `w` decoded to f32 (an embedding lookup), whatever the layout.
    package static func dequantizeRow(_ w: WeightMatrix, row: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < w.rows, "row \(row) outside 0..<\(w.rows)")
        let base = w.rowMajorType
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, w.cols / base.blockElements * base.blockBytes), alignment: 16)
        defer { scratch.deallocate() }
        w.withRowMajorRow(row, scratch: scratch) { base.decodeBlocks($0, blocks: w.cols / base.blockElements, into: destination) }
    }
}
