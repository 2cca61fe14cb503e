import KilnCore
import KilnKernels

/// Causal attention for a chunk of prompt rows as two matrix products per KV head: the queries
/// of every head in the head's group, scaled, against all cached keys (`S = Q·Kᵀ`), a masked
/// softmax of each row, then `S·V`. The per-row path reads every key once per query row and
/// head; here the product kernels keep keys in registers across 48 query rows, which made
/// attention a third of a 512-token prompt's time before. Memory is bounded by the chunk:
/// `S` holds group × chunk rows × positions scores (12 MB for SmolLM2, 256 rows, 4,096 positions).
/// f32 KV cache only; the f16 cache keeps the per-row path.
final class BlockedAttention {
    /// Chunks shorter than this keep the per-row path (decode, short chat turns).
    static let minimumRows = 16

    private let keys = Scratch(), valuesT = Scratch(), queries = Scratch(), scores = Scratch(), outputs = Scratch()

    /// `queries`: `rows × heads·headDim` (row t at position `base + t`); writes the attention
    /// output rows into `out` in the same layout.
    func run(cache: KVCache, layer: Int, config c: ModelConfig, queries q: UnsafePointer<Float>, rows: Int, base: Int,
             into out: UnsafeMutablePointer<Float>) {
        let d = c.headDim, qWidth = c.heads * d, group = c.heads / c.kvHeads
        let positions = base + rows, stacked = group * rows
        let scale = 1 / Float(d).squareRoot()
        let k = keys.floats(positions * d), vt = valuesT.floats(d * positions)
        let qs = queries.floats(stacked * d), s = scores.floats(stacked * positions), o = outputs.floats(stacked * d)
        for g in 0..<c.kvHeads {
            let (keyView, valueView) = cache.views(layer: layer, headOffset: g * d)
            let key = keyView.base.assumingMemoryBound(to: Float.self), value = valueView.base.assumingMemoryBound(to: Float.self)
            for p in 0..<positions {
                (k + p * d).update(from: key + p * keyView.rowStride, count: d)
                for i in 0..<d { vt[i * positions + p] = value[p * valueView.rowStride + i] }
            }
            for j in 0..<group {
                let head = g * group + j
                for t in 0..<rows {
                    let from = q + t * qWidth + head * d, to = qs + (j * rows + t) * d
                    for i in 0..<d { to[i] = from[i] * scale }
                }
            }
            Kernels.matmul(WeightMatrix(type: .f32, rows: positions, cols: d, data: k), qs, batch: stacked, s)
            // Row (j, t) sees positions 0 … base + t: softmax there, zero beyond.
            Kernels.parallelFor(stacked) { row in
                let t = row % rows, visible = base + t + 1
                let scoreRow = s + row * positions
                Kernels.softmax(scoreRow, count: visible)
                (scoreRow + visible).update(repeating: 0, count: positions - visible)
            }
            Kernels.matmul(WeightMatrix(type: .f32, rows: d, cols: positions, data: vt), s, batch: stacked, o)
            for j in 0..<group {
                let head = g * group + j
                for t in 0..<rows { (out + t * qWidth + head * d).update(from: o + (j * rows + t) * d, count: d) }
            }
        }
    }
}

/// Grow-only float scratch: uninitialised, so untouched capacity costs no resident memory.
private final class Scratch {
    private var pointer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    deinit { pointer?.deallocate() }

    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || pointer == nil {
            pointer?.deallocate()
            capacity = max(count, 1)
            pointer = .allocate(capacity: capacity)
        }
        return pointer!
    }
}
