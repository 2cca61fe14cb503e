import Foundation
import KilnCore
import KilnKernels
import TestSupport
import Testing

/// The blocked attention kernel on every tier against a plain computation here: for each query
/// head, softmax over exactly the positions its row may see (causal, and the sliding window),
/// in Double, from the logical keys and values — not from the cache layout, which the test
/// packs itself from `KVLayout`'s index formulas.
struct AttentionTests {
    /// One attention problem: `rows` new rows after `base` cached positions.
    struct Case: CustomStringConvertible {
        var rows: Int, base: Int, headDim: Int, group: Int, kvHeads = 2
        var window = 0
        /// Slots per head; 0: every position (no ring).
        var ring = 0
        var description: String { "rows \(rows) base \(base) d \(headDim) group \(group) window \(window) ring \(ring)" }
    }

    static let cases: [Case] = {
        var all: [Case] = []
        for rows in [1, 3, 17, 65] {
            for (base, headDim, group) in [(0, 64, 1), (37, 64, 3), (70, 128, 4), (5, 17, 3), (130, 64, 1)] {
                all.append(Case(rows: rows, base: base, headDim: headDim, group: group))
            }
        }
        // Long enough for whole 64-key blocks before a tile (the unmasked path) and skipped ones.
        all.append(Case(rows: 65, base: 300, headDim: 64, group: 3))
        // Sliding windows: a full cache, and a ring of 2·window − 1 slots that has wrapped.
        for rows in [1, 3, 17] {
            all.append(Case(rows: rows, base: 90, headDim: 64, group: 3, window: 20))
            all.append(Case(rows: rows, base: 90, headDim: 64, group: 4, window: 20, ring: 39))
            all.append(Case(rows: rows, base: 200, headDim: 17, group: 1, window: 70, ring: 139))
        }
        // Decode rows at long contexts, whose keys the kernel splits into runs of 256 slots and
        // merges: an even and a ragged last run, a tail head size, and a wrapped ring with a window
        // (runs wholly outside it see nothing).
        all.append(Case(rows: 1, base: 1023, headDim: 64, group: 3))
        all.append(Case(rows: 3, base: 700, headDim: 17, group: 4))
        all.append(Case(rows: 1, base: 900, headDim: 64, group: 3, window: 300, ring: 599))
        all.append(Case(rows: 2, base: 1000, headDim: 32, group: 2, window: 100))
        // Past 64 runs of 256 the runs lengthen (to 320 slots here), keeping the records bounded.
        all.append(Case(rows: 1, base: 17000, headDim: 16, group: 1))
        // The fixtures' tiny sliding-window models: window 5 in a ring of 9, 32-wide heads.
        for (rows, base) in [(5, 0), (5, 5), (1, 12), (4, 16), (3, 2)] {
            all.append(Case(rows: rows, base: base, headDim: 32, group: 2, window: 5, ring: 9))
        }
        return all
    }()

    @Test(arguments: [KVPrecision.f32, .f16])
    func everyTierMatchesThePlainComputation(precision: KVPrecision) {
        var random = SeededRandom(seed: 11)
        for c in Self.cases {
            let d = c.headDim, heads = c.kvHeads * c.group, positions = c.base + c.rows
            let round: (Float) -> Float = { precision == .f16 ? HalfPrecision.floatFromHalf(HalfPrecision.halfFromFloat($0)) : $0 }
            // Logical keys and values: [position][kv head][d].
            let k = (0..<(positions * c.kvHeads * d)).map { _ in round(random.uniform(-1, 1)) }
            let v = (0..<(positions * c.kvHeads * d)).map { _ in round(random.uniform(-1, 1)) }
            let q = (0..<(c.rows * heads * d)).map { _ in random.uniform(-1, 1) }
            let scale = 3 / Float(d).squareRoot()
            let capacity = c.ring > 0 ? c.ring : positions
            let stride = KVLayout.paddedSlots(capacity) * d
            // Packed in position order, so a ring's slot keeps the latest position ≡ slot.
            var keys = [Float](repeating: 0, count: c.kvHeads * stride), values = keys
            for p in 0..<positions {
                for g in 0..<c.kvHeads {
                    for i in 0..<d {
                        keys[g * stride + KVLayout.keyIndex(slot: p % capacity, dimension: i, headDim: d)] = k[(p * c.kvHeads + g) * d + i]
                        values[g * stride + KVLayout.valueIndex(slot: p % capacity, dimension: i, headDim: d)] = v[(p * c.kvHeads + g) * d + i]
                    }
                }
            }
            let keys16 = keys.map(HalfPrecision.halfFromFloat), values16 = values.map(HalfPrecision.halfFromFloat)

            var expected = [Float](repeating: 0, count: q.count)
            for t in 0..<c.rows {
                let position = c.base + t
                let first = c.window > 0 ? max(0, position - c.window + 1) : 0
                for h in 0..<heads {
                    let g = h / c.group
                    let scores = (first...position).map { p in
                        (0..<d).reduce(0.0) { $0 + Double(q[(t * heads + h) * d + $1] * scale) * Double(k[(p * c.kvHeads + g) * d + $1]) }
                    }
                    let largest = scores.max()!
                    let weights = scores.map { exp($0 - largest) }, total = weights.reduce(0, +)
                    for i in 0..<d {
                        let sum = zip(first...position, weights).reduce(0.0) { $0 + $1.1 * Double(v[($1.0 * c.kvHeads + g) * d + i]) }
                        expected[(t * heads + h) * d + i] = Float(sum / total)
                    }
                }
            }

            for table in allTables {
                var out = [Float](repeating: .nan, count: q.count)
                q.withUnsafeBufferPointer { qp in
                    out.withUnsafeMutableBufferPointer { op in
                        func run(_ kp: UnsafeRawPointer, _ vp: UnsafeRawPointer) {
                            let job = AttentionJob(queries: qp.baseAddress!, out: op.baseAddress!, queryStride: heads * d, keys: kp, values: vp,
                                                   headStride: stride, slots: min(positions, capacity), capacity: capacity,
                                                   last: positions - 1, rows: c.rows, base: c.base, window: c.window)
                            table.attention([job], heads: heads, kvHeads: c.kvHeads, headDim: d, precision: precision, scale: scale)
                        }
                        if precision == .f16 {
                            keys16.withUnsafeBytes { kp in values16.withUnsafeBytes { vp in run(kp.baseAddress!, vp.baseAddress!) } }
                        } else {
                            keys.withUnsafeBytes { kp in values.withUnsafeBytes { vp in run(kp.baseAddress!, vp.baseAddress!) } }
                        }
                    }
                }
                // A weighted mean of values in [−1, 1], computed in f32 with a ≈2-ulp exponential:
                // 2e-5 absolute.
                if let i = firstMismatch(out, expected, rtol: 0, atol: 2e-5) {
                    Issue.record("attention \(precision) \(table.tier) \(c): [\(i)] = \(out[i]), expected \(expected[i])")
                }
            }
        }
    }

    /// Several sequences in one call (the serving batch's decode step): each job reads its own
    /// cache, and the result equals running the jobs one by one on the reference.
    @Test func jobsOfABatchAreIndependent() {
        var random = SeededRandom(seed: 12)
        let d = 64, kvHeads = 3, heads = 9, lengths = [5, 70, 1, 33, 700] // 700: a job split over its keys
        // Allocated buffers: the jobs hold raw pointers for the whole call.
        func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            p.initialize(from: values, count: values.count)
            return p
        }
        let keys = lengths.map { n in buffer((0..<(kvHeads * KVLayout.paddedSlots(n) * d)).map { _ in random.uniform(-1, 1) }) }
        let values = lengths.map { n in buffer((0..<(kvHeads * KVLayout.paddedSlots(n) * d)).map { _ in random.uniform(-1, 1) }) }
        let q = lengths.map { _ in buffer((0..<(heads * d)).map { _ in random.uniform(-1, 1) }) }
        defer { for p in keys + values + q { p.deallocate() } }
        func run(_ table: KernelTable, together: Bool) -> [[Float]] {
            let outs = lengths.map { _ in buffer([Float](repeating: .nan, count: heads * d)) }
            defer { for p in outs { p.deallocate() } }
            let jobs = lengths.indices.map { j in
                AttentionJob(queries: q[j], out: outs[j], queryStride: heads * d, keys: keys[j], values: values[j],
                             headStride: KVLayout.paddedSlots(lengths[j]) * d, slots: lengths[j], capacity: lengths[j],
                             last: lengths[j] - 1, rows: 1, base: lengths[j] - 1, window: 0)
            }
            if together {
                table.attention(jobs, heads: heads, kvHeads: kvHeads, headDim: d, precision: .f32, scale: 0.125)
            } else {
                for job in jobs { table.attention([job], heads: heads, kvHeads: kvHeads, headDim: d, precision: .f32, scale: 0.125) }
            }
            return outs.map { Array(UnsafeBufferPointer(start: $0, count: heads * d)) }
        }
        let expected = run(reference, together: false)
        for table in allTables {
            for (got, want) in zip(run(table, together: true), expected) {
                #expect(firstMismatch(got, want, rtol: 0, atol: 2e-5) == nil, "batch \(table.tier)")
            }
        }
    }

    /// The kernel's memory is a few tiles: its scratch depends on the head size alone, and even
    /// for a 256-wide head stays below what one tile's scores over a 4,096-token context would take
    /// (so a kernel that kept rows × positions scores could not pass).
    @Test func scratchDoesNotGrowWithTheContext() {
        for d in [17, 64, 128, 256] {
            #expect(KVLayout.scratchBytes(headDim: d) < 32 * 4096 * 4 + 2 * 32 * d * 4, "d \(d): \(KVLayout.scratchBytes(headDim: d)) bytes")
        }
    }
}
