import CKilnKernels
import Foundation
import KilnCore

/// Where a KV cache head keeps its keys and values: the layout the attention kernel reads
/// (`kiln_flash_attention` in CKilnKernels.h). Keys sit in blocks of `blockSlots` slots, each
/// block transposed (`[headDim][16]`), so sixteen keys' i-th values are one vector and `Q·Kᵀ`
/// needs no horizontal sums for one query row or many; values are row-major `[slot][headDim]`.
package enum KVLayout {
    /// Slots per key block.
    package static let blockSlots = Int(KILN_KV_BLOCK)

    /// Slots a head's storage holds for `capacity` usable ones (whole key blocks).
    package static func paddedSlots(_ capacity: Int) -> Int { (capacity + blockSlots - 1) / blockSlots * blockSlots }

    /// Element index of dimension `i` of the key in `slot`.
    package static func keyIndex(slot: Int, dimension i: Int, headDim: Int) -> Int {
        (slot / blockSlots) * blockSlots * headDim + i * blockSlots + slot % blockSlots
    }

    /// Element index of dimension `i` of the value in `slot`.
    package static func valueIndex(slot: Int, dimension i: Int, headDim: Int) -> Int { slot * headDim + i }

    /// Scratch one pool task of the kernel allocates: it depends on the head size only, never on
    /// the rows or positions (no rows × positions score matrix exists).
    package static func scratchBytes(headDim: Int) -> Int { Int(kiln_flash_attention_scratch_bytes(Int64(headDim))) }

    /// The position slot `slot` holds when the latest position stored is `last` and the head
    /// keeps `capacity` slots (a ring once positions outrun it).
    package static func position(slot: Int, last: Int, capacity: Int) -> Int {
        last - (last - slot) % capacity
    }
}

/// One sequence's rows for `KernelTable.attention(_:heads:kvHeads:headDim:precision:scale:)`:
/// query head h of row t is at `queries + t·queryStride + h·headDim` (the output likewise), row t
/// sits at position `base + t` and its keys are already stored. KV head g's keys and values
/// start `g·headStride` elements after `keys` and `values` (`KVLayout`); slots `0 ..< slots`
/// are filled, the latest position stored is `last`, and a slot holds the latest position ≡ slot
/// (mod `capacity`). With `window` > 0 a row at p sees only positions above p − window.
package struct AttentionJob {
    package var queries: UnsafePointer<Float>
    package var out: UnsafeMutablePointer<Float>
    package var queryStride: Int
    package var keys: UnsafeRawPointer
    package var values: UnsafeRawPointer
    package var headStride: Int
    package var slots: Int
    package var capacity: Int
    package var last: Int
    package var rows: Int
    package var base: Int
    package var window: Int

    package init(queries: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, queryStride: Int, keys: UnsafeRawPointer,
                 values: UnsafeRawPointer, headStride: Int, slots: Int, capacity: Int, last: Int, rows: Int, base: Int, window: Int) {
        self.queries = queries
        self.out = out
        self.queryStride = queryStride
        self.keys = keys
        self.values = values
        self.headStride = headStride
        self.slots = slots
        self.capacity = capacity
        self.last = last
        self.rows = rows
        self.base = base
        self.window = window
    }

    var c: kiln_attention_job {
        kiln_attention_job(q: queries, out: out, q_stride: Int64(queryStride), keys: keys, values: values,
                           head_stride: Int64(headStride), slots: Int64(slots), capacity: Int64(capacity), last: Int64(last),
                           rows: Int64(rows), base: Int64(base), window: Int64(window))
    }
}

extension KernelTable {
    /// Causal grouped-query attention of every job's rows over its cache: blocked, with an online
    /// softmax, so memory does not grow with rows × positions (the C tiers split the work over the
    /// pool; the reference is the scalar twin they are tested against).
    package func attention(_ jobs: [AttentionJob], heads: Int, kvHeads: Int, headDim: Int, precision: KVPrecision, scale: Float) {
        guard let ops else {
            for job in jobs { Reference.attention(job, heads: heads, kvHeads: kvHeads, headDim: headDim, precision: precision, scale: scale) }
            return
        }
        let type = Int32(precision == .f16 ? KILN_KV_F16 : KILN_KV_F32)
        let cJobs = jobs.map(\.c)
        cJobs.withUnsafeBufferPointer { p in
            kiln_flash_attention(ops, p.baseAddress, Int64(p.count), Int64(heads), Int64(kvHeads), Int64(headDim), type, scale)
        }
    }
}

extension Kernels {
    /// `KernelTable.attention(_:heads:kvHeads:headDim:precision:scale:)` on the selected tier.
    package static func attention(_ jobs: [AttentionJob], heads: Int, kvHeads: Int, headDim: Int, precision: KVPrecision, scale: Float) {
        table.attention(jobs, heads: heads, kvHeads: kvHeads, headDim: headDim, precision: precision, scale: scale)
    }
}

extension Reference {
    /// The scalar twin: each row's scores over every visible slot, a two-pass softmax, the
    /// weighted sum of values, in plain Float arithmetic.
    static func attention(_ job: AttentionJob, heads: Int, kvHeads: Int, headDim d: Int, precision: KVPrecision, scale: Float) {
        let group = heads / kvHeads
        func element(_ base: UnsafeRawPointer, _ index: Int) -> Float {
            precision == .f16 ? HalfPrecision.floatFromHalf(base.load(fromByteOffset: index * 2, as: UInt16.self))
                : base.load(fromByteOffset: index * 4, as: Float.self)
        }
        var scores = [Float](repeating: 0, count: job.slots)
        for t in 0..<job.rows {
            let position = job.base + t
            for h in 0..<heads {
                let g = h / group, q = job.queries + t * job.queryStride + h * d
                var largest = -Float.infinity
                for slot in 0..<job.slots {
                    let p = KVLayout.position(slot: slot, last: job.last, capacity: job.capacity)
                    guard p <= position, job.window <= 0 || p > position - job.window else { scores[slot] = -.infinity; continue }
                    var dot: Float = 0
                    for i in 0..<d { dot += q[i] * scale * element(job.keys, g * job.headStride + KVLayout.keyIndex(slot: slot, dimension: i, headDim: d)) }
                    scores[slot] = dot
                    largest = max(largest, dot)
                }
                var sum: Float = 0
                for slot in 0..<job.slots {
                    scores[slot] = scores[slot] == -.infinity ? 0 : expf(scores[slot] - largest)
                    sum += scores[slot]
                }
                let out = job.out + t * job.queryStride + h * d
                for i in 0..<d {
                    var acc: Float = 0
                    for slot in 0..<job.slots where scores[slot] != 0 {
                        acc += scores[slot] * element(job.values, g * job.headStride + KVLayout.valueIndex(slot: slot, dimension: i, headDim: d))
                    }
                    out[i] = sum > 0 ? acc / sum : 0
                }
            }
        }
    }
}
