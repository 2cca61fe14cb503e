import KilnCore

/// The order a quantised matrix's blocks are stored in: row after row (the only order GGUF and
/// safetensors know), or the kernels' interleaved groups of 8 rows (docs/FORMAT.md §7.4), which
/// `.kiln` output uses by default because decoding streams them fastest (docs/PERFORMANCE.md).
/// Interleaving permutes whole blocks and pads the last group with zero rows: no value changes,
/// which `kiln diff` shows (it compares through the row-major form).
enum BlockLayout {
    /// `type` with its blocks in row order: the base of an interleaved type, else itself.
    static func rowMajor(_ type: ElementType) -> ElementType { type.interleaving?.base ?? type }

    /// The interleaved layout for a `type` matrix of `shape`, when the registry has one and the
    /// matrix has at least one full group of rows (smaller ones would only gain padding).
    static func interleaved(_ type: ElementType, shape: [Int]) -> ElementType? {
        guard shape.count == 2, let variant = type.interleavedVariant, let group = variant.interleaving,
              shape[0] >= group.rows, shape[1] > 0, shape[1] % type.blockElements == 0
        else { return nil }
        return variant
    }

    /// `data` (a `type` tensor of `shape`) with its blocks in row order; unchanged if they are.
    static func toRowMajor(_ data: TensorData, type: ElementType, shape: [Int]) throws -> TensorData {
        guard let group = type.interleaving else { return data }
        let (rows, cols) = try matrixShape(shape, type)
        let output = try OwnedBytes(count: try group.base.byteCount(shape: shape))
        group.deinterleave(data.bytes.baseAddress!, rows: rows, cols: cols, into: output.pointer)
        return TensorData(output)
    }

    /// Row-major `data` (blocks of `target`'s base type) rearranged into `target`'s groups.
    static func toInterleaved(_ data: TensorData, target: ElementType, shape: [Int]) throws -> TensorData {
        guard let group = target.interleaving else { return data }
        let (rows, cols) = try matrixShape(shape, target)
        let output = try OwnedBytes(count: try target.byteCount(shape: shape))
        group.interleave(data.bytes.baseAddress!, rows: rows, cols: cols, into: output.pointer)
        return TensorData(output)
    }

    private static func matrixShape(_ shape: [Int], _ type: ElementType) throws -> (Int, Int) {
        guard shape.count == 2, shape[1] % type.blockElements == 0 else {
            throw KilnError(.malformed, "\(type.name) is a matrix layout; shape \(shape) is not [rows, a multiple of \(type.blockElements)]")
        }
        return (shape[0], shape[1])
    }
}
