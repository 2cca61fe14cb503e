import Foundation
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
        prepare(c)
        // Decode and short chunks: the heads side by side, each on one thread (products called
        // from a pool task run on that thread), which beats splitting each small product over
        // the pool twice per head. Large chunks: one head at a time, each product split.
        if c.kvHeads > 1 && Self.isSmall(config: c, rows: rows, base: base) {
            Kernels.parallelFor(c.kvHeads) { g in self.head(g, cache: cache, layer: layer, config: c, queries: q, rows: rows, base: base, into: out) }
        } else {
            for g in 0..<c.kvHeads { head(g, cache: cache, layer: layer, config: c, queries: q, rows: rows, base: base, into: out) }
        }
    }

    /// Whether one head's products are small enough to run on one thread.
    static func isSmall(config c: ModelConfig, rows: Int, base: Int) -> Bool {
        (c.heads / c.kvHeads) * rows * (base + rows) * c.headDim < 1 << 21
    }

    /// Softmax over the slots `visible` accepts, zeros elsewhere (at least one slot, the row's
    /// own position, is visible).
    static func windowedSoftmax(_ row: UnsafeMutablePointer<Float>, slots: Int, visible: (Int) -> Bool) {
        var maximum = -Float.infinity
        for i in 0..<slots where visible(i) { maximum = max(maximum, row[i]) }
        var sum: Float = 0
        for i in 0..<slots {
            if visible(i) {
                row[i] = expf(row[i] - maximum)
                sum += row[i]
            } else {
                row[i] = 0
            }
        }
        let inverse = 1 / sum
        for i in 0..<slots { row[i] *= inverse }
    }

    /// Makes the per-head scratch before heads run concurrently (`head` only reads the list).
    func prepare(_ c: ModelConfig) {
        while scratch.count < c.kvHeads { scratch.append((Scratch(), Scratch(), Scratch())) }
    }

    /// KV head `g`'s group of query heads: `run`'s work for one head, callable from a pool task
    /// (a batch of sequences runs every sequence's heads as one job) after `prepare`.
    func head(_ g: Int, cache: KVCache, layer: Int, config c: ModelConfig, queries q: UnsafePointer<Float>, rows: Int, base: Int,
              into out: UnsafeMutablePointer<Float>) {
        let d = c.headDim, qWidth = c.heads * d, group = c.heads / c.kvHeads
        let window = c.isLocal(layer: layer) ? c.slidingWindow : nil
        // A sliding-window layer's ring holds fewer slots than positions once it wraps.
        let positions = min(base + rows, cache.capacities[layer]), stacked = group * rows
        let scale = c.attentionScale.map(Float.init) ?? 1 / Float(d).squareRoot()
        let qs = scratch[g].queries.floats(stacked * d), s = scratch[g].scores.floats(stacked * positions)
        let o = scratch[g].outputs.floats(stacked * d)
        for j in 0..<group {
            let h = g * group + j
            for t in 0..<rows {
                let from = q + t * qWidth + h * d, to = qs + (j * rows + t) * d
                for i in 0..<d { to[i] = from[i] * scale }
            }
        }
        Kernels.matmul(cache.keyMatrix(layer: layer, head: g, positions: positions), qs, batch: stacked, s)
        let last = base + rows - 1, capacity = cache.capacities[layer]
        let mask = { (row: Int) in
            let scoreRow = s + row * positions, p = base + row % rows
            if let window {
                // Position p sees p − window < q ≤ p; slot i holds the latest position ≡ i
                // (mod capacity) stored so far.
                Self.windowedSoftmax(scoreRow, slots: positions) { slot in
                    let q = last - (last - slot) % capacity
                    return q <= p && q > p - window
                }
            } else {
                // Row (j, t) sees positions 0 … base + t: softmax there, zeros beyond.
                let visible = p + 1
                Kernels.softmax(scoreRow, count: visible)
                (scoreRow + visible).update(repeating: 0, count: positions - visible)
            }
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
