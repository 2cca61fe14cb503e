import KilnCore

/// Applies a `TensorTransform` to a source tensor's bytes.
enum TensorTransforms {
    static func apply(_ tensor: CanonicalTensor, to source: TensorData) throws -> TensorData {
        switch tensor.transform {
        case .none:
            return source
        case .addOne:
            let count = tensor.elementCount
            let values = try tensor.source.type.dequantize(source.bytes, elementCount: count)
            let output = try OwnedBytes(count: count * 4)
            let floats = output.pointer.assumingMemoryBound(to: Float.self)
            for i in 0..<count { floats[i] = 1 + values[i] }
            return TensorData(output)
        case .slice(let index):
            let length = tensor.byteCount
            let start = try Checked.multiply(index, length, "slice offset")
            guard start + length <= source.bytes.count else {
                throw KilnError(.malformed, "slice \(index) of '\(tensor.source.name)' runs past its end")
            }
            return TensorData(bytes: UnsafeRawBufferPointer(rebasing: source.bytes[start..<(start + length)]), owner: source.owner)
        case .transpose:
            guard let width = tensor.type.scalarBytes, tensor.source.shape.count == 2 else {
                throw KilnError(.unsupported, "cannot transpose '\(tensor.source.name)' (\(tensor.type.name), shape \(tensor.source.shape))")
            }
            let rows = tensor.source.shape[0], cols = tensor.source.shape[1]
            return TensorData(try Rearrange.transpose(source.bytes, rows: rows, cols: cols, width: width))
        case .interleaveHeads(let heads):
            let rows = tensor.shape.first ?? 1
            guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
                throw KilnError(.malformed, "'\(tensor.source.name)' has \(rows) rows, which do not split into \(heads) heads of even size")
            }
            let rowBytes = source.bytes.count / max(rows, 1)
            let output = try OwnedBytes(count: source.bytes.count)
            let input = source.bytes.baseAddress!
            for row in 0..<rows {
                let from = interleavedSourceRow(row, headRows: rows / heads)
                (output.pointer + row * rowBytes).copyMemory(from: input + from * rowBytes, byteCount: rowBytes)
            }
            return TensorData(output)
        }
    }

    /// The source row of canonical row `row` under `.interleaveHeads`: within each head of
    /// `headRows` rows (d), canonical row 2j + i is source row i·d/2 + j.
    static func interleavedSourceRow(_ row: Int, headRows: Int) -> Int {
        let head = row / headRows, within = row % headRows
        return head * headRows + (within % 2) * (headRows / 2) + within / 2
    }

    /// Writes rows `columns` of the transpose of a `[rows, cols]` matrix of `width`-byte
    /// elements (that is, those source columns, each now a row of `rows` elements) to `out`.
    /// Blocked so both sides stay in cache for large matrices.
    static func gatherTransposed(_ input: UnsafeRawPointer, rows: Int, cols: Int, width: Int, columns: Range<Int>,
                                 into out: UnsafeMutableRawPointer) {
        let tile = 32
        for r0 in stride(from: 0, to: rows, by: tile) {
            for c0 in stride(from: columns.lowerBound, to: columns.upperBound, by: tile) {
                for r in r0..<min(r0 + tile, rows) {
                    for c in c0..<min(c0 + tile, columns.upperBound) {
                        (out + ((c - columns.lowerBound) * rows + r) * width).copyMemory(from: input + (r * cols + c) * width, byteCount: width)
                    }
                }
            }
        }
    }
}
