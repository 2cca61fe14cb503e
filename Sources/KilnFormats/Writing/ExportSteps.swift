import KilnCore

/// Applies an `ExportStep` to a canonical tensor's bytes (the output layout's arrangement).
enum ExportSteps {
    static func apply(_ tensor: ExportTensor, to source: TensorData) throws -> TensorData {
        let canonical = tensor.canonical
        switch tensor.step {
        case .none:
            return source
        case .transpose:
            guard let width = canonical.type.scalarBytes, canonical.shape.count == 2 else {
                throw KilnError(.unsupported, "cannot transpose a \(canonical.type.name) tensor of shape \(canonical.shape)")
            }
            return TensorData(try Rearrange.transpose(source.bytes, rows: canonical.shape[0], cols: canonical.shape[1], width: width))
        case .deinterleaveHeads(let heads):
            let rows = canonical.shape.first ?? 1
            guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
                throw KilnError(.malformed, "\(rows) rows do not split into \(heads) heads of even size")
            }
            let rowBytes = source.bytes.count / max(rows, 1)
            let headRows = rows / heads, half = headRows / 2
            let output = try OwnedBytes(count: source.bytes.count)
            let input = source.bytes.baseAddress!
            // The inverse of `TensorTransform.interleaveHeads`: row 2j + i goes back to i·half + j.
            for h in 0..<heads {
                for i in 0..<2 {
                    for j in 0..<half {
                        let from = h * headRows + 2 * j + i
                        let to = h * headRows + i * half + j
                        (output.pointer + to * rowBytes).copyMemory(from: input + from * rowBytes, byteCount: rowBytes)
                    }
                }
            }
            return TensorData(output)
        }
    }
}
