import KilnCore

/// Applies a `TensorTransform` to a source tensor's bytes.
enum TensorTransforms {
    static func apply(_ tensor: CanonicalTensor, to source: TensorData) throws -> TensorData {
        switch tensor.transform {
        case .none:
            return source
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
            let output = OwnedBytes(count: source.bytes.count)
            let input = source.bytes.baseAddress!, out = output.pointer
            // Blocked so both sides stay in cache for large matrices.
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
            return TensorData(output)
        case .interleaveHeads(let heads):
            let rows = tensor.shape.first ?? 1
            guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
                throw KilnError(.malformed, "'\(tensor.source.name)' has \(rows) rows, which do not split into \(heads) heads of even size")
            }
            let rowBytes = source.bytes.count / max(rows, 1)
            let headRows = rows / heads, half = headRows / 2
            let output = OwnedBytes(count: source.bytes.count)
            let input = source.bytes.baseAddress!
            for h in 0..<heads {
                for i in 0..<2 {
                    for j in 0..<half {
                        let from = h * headRows + i * half + j
                        let to = h * headRows + 2 * j + i
                        (output.pointer + to * rowBytes).copyMemory(from: input + from * rowBytes, byteCount: rowBytes)
                    }
                }
            }
            return TensorData(output)
        }
    }
}
