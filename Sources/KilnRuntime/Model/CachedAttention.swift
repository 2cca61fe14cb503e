import KilnCore
import KilnKernels

/// Causal attention of a chunk of rows (one token when decoding, a prompt chunk otherwise) over
/// the KV cache, as two matrix products per KV head: the scaled queries of every head in the
/// head's group against all cached keys (`S = Q·Kᵀ`), a masked softmax of each row, then `S·V`.
/// The cache stores each head's keys as a matrix and its values transposed (`KVCache`), so both
/// products run on the matrix kernels straight from the cache: keys stay in registers across up
/// to 48 query rows, and the group's heads share one pass over the keys (grouped-query
/// attention). Memory is bounded by the chunk: `S` holds group × rows × positions scores.
final class CachedAttention {
    /// Per KV head: queries, scores and outputs (heads may run at once).
    private var scratch: [(queries: Scratch, scores: Scratch, outputs: Scratch)] = []

    /// `q`: `rows × heads·headDim` (row t at position `base + t`, already in the cache); writes
    /// the attention output rows into `out` in the same layout.
    func run(cache: KVCache, layer: Int, config c: ModelConfig, queries q: UnsafePointer<Float>, rows: Int, base: Int,
             into out: UnsafeMutablePointer<Float>) {
        let d = c.headDim, qWidth = c.heads * d, group = c.heads / c.kvHeads
        let positions = base + rows, stacked = group * rows
        let scale = 1 / Float(d).squareRoot()
        while scratch.count < c.kvHeads { scratch.append((Scratch(), Scratch(), Scratch())) }
        let head = { (g: Int) in
            let qs = self.scratch[g].queries.floats(stacked * d), s = self.scratch[g].scores.floats(stacked * positions)
            let o = self.scratch[g].outputs.floats(stacked * d)
            for j in 0..<group {
                let h = g * group + j
                for t in 0..<rows {
                    let from = q + t * qWidth + h * d, to = qs + (j * rows + t) * d
                    for i in 0..<d { to[i] = from[i] * scale }
                }
            }
            Kernels.matmul(cache.keyMatrix(layer: layer, head: g, positions: positions), qs, batch: stacked, s)
            // Row (j, t) sees positions 0 … base + t: softmax there, zeros beyond.
            let mask = { (row: Int) in
                let visible = base + row % rows + 1
                let scoreRow = s + row * positions
                Kernels.softmax(scoreRow, count: visible)
                (scoreRow + visible).update(repeating: 0, count: positions - visible)
            }
            if stacked * positions >= 1 << 14 {
                Kernels.parallelFor(stacked, mask)
            } else {
                for row in 0..<stacked { mask(row) }
            }
            Kernels.matmul(cache.valueMatrix(layer: layer, head: g, positions: positions), s, batch: stacked, o)
            for j in 0..<group {
                let h = g * group + j
                for t in 0..<rows { (out + t * qWidth + h * d).update(from: o + (j * rows + t) * d, count: d) }
            }
        }
        // Decode and short chunks: the heads side by side, each on one thread (products called
        // from a pool task run on that thread), which beats splitting each small product over
        // the pool twice per head. Large chunks: one head at a time, each product split.
        if c.kvHeads > 1 && stacked * positions * d < 1 << 21 {
            Kernels.parallelFor(c.kvHeads, head)
        } else {
            for g in 0..<c.kvHeads { head(g) }
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
