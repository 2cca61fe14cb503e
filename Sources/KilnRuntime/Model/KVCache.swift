import KilnCore
import KilnFormats
import KilnKernels

/// Keys and values of every layer, as f32 or (half the memory) f16, in the layout the attention
/// kernel reads (`KVLayout`): per layer and KV head, keys in transposed blocks of 16 slots and
/// values row-major, each head taking `KVLayout.paddedSlots(capacity) × headDim` elements. A
/// layer holds the whole context (slot = position), or, for a sliding-window layer, a ring of
/// `2·window − 1` slots (slot = position mod capacity): the window the attention needs plus room
/// for a chunk of `window` new rows (`ForwardPass` splits longer chunks). Sized once for the
/// context, so generation never allocates.
final class KVCache {
    let layers: Int
    /// Slots per layer: the context length, or a sliding-window layer's ring.
    let capacities: [Int]
    let kvHeads: Int
    let headDim: Int
    let precision: KVPrecision
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    /// Byte offset of each layer's block of `kvHeads × headStride` elements.
    private let layerOffsets: [Int]
    private var elementBytes: Int { precision == .f16 ? 2 : 4 }
    let bytes: Int

    /// Slots of each layer for a context of `positions`: a sliding-window layer keeps at most
    /// `2·window − 1` (its window and a chunk of `window` rows), the others every position.
    static func capacities(_ c: ModelConfig, positions: Int) -> [Int] {
        (0..<c.layers).map { layer in
            guard c.isLocal(layer: layer), let window = c.slidingWindow else { return positions }
            return min(positions, 2 * window - 1)
        }
    }

    /// Throws instead of trapping or aborting when the size overflows or the system refuses the
    /// memory (callers check `ContextLimits` first; this is the last line).
    init(capacities: [Int], kvHeads: Int, headDim: Int, precision: KVPrecision = .f32) throws {
        layers = capacities.count
        self.capacities = capacities
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.precision = precision
        var offsets: [Int] = []
        var total = 0
        for capacity in capacities {
            offsets.append(total)
            guard capacity >= 0, capacity <= Int.max - KVLayout.blockSlots else { throw KilnError(.usage, "KV cache bytes overflow") }
            var layerBytes = precision == .f16 ? 2 : 4
            for factor in [KVLayout.paddedSlots(capacity), kvHeads, headDim] {
                layerBytes = try Checked.multiply(layerBytes, factor, "KV cache bytes")
            }
            total = try Checked.add(total, layerBytes, "KV cache bytes")
        }
        layerOffsets = offsets
        bytes = try Checked.multiply(total, 2, "KV cache bytes")
        let positions = capacities.max() ?? 0
        keys = try Allocation.bytes(max(total, 1), for: "the KV cache's keys (\(positions) positions)")
        do {
            values = try Allocation.bytes(max(total, 1), for: "the KV cache's values (\(positions) positions)")
        } catch {
            Allocation.free(keys)
            throw error
        }
    }

    /// Elements from one KV head's keys (or values) to the next in layer `layer`.
    func headStride(_ layer: Int) -> Int { KVLayout.paddedSlots(capacities[layer]) * headDim }

    /// Stores one position's keys and values (each `kvHeads × headDim` f32 values, head-major)
    /// in the position's slot.
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let slot = position % capacities[layer], stride = headStride(layer)
        for head in 0..<kvHeads {
            let first = layerOffsets[layer] / elementBytes + head * stride
            let kh = k + head * headDim, vh = v + head * headDim
            let valueRow = first + KVLayout.valueIndex(slot: slot, dimension: 0, headDim: headDim)
            // Dimension i of the key is at keyRow + i · blockSlots (KVLayout.keyIndex, formed once:
            // called per element across the module boundary it was 1.3% of a batched decode step).
            let keyRow = first + KVLayout.keyIndex(slot: slot, dimension: 0, headDim: headDim), step = KVLayout.blockSlots
            if precision == .f16 {
                // Converted by the SIMD kernel into a row, then spread to the transposed slots (the
                // scalar conversion per element was 1% of a batch-8 step's samples on each thread).
                let key = keys.assumingMemoryBound(to: UInt16.self) + keyRow
                withUnsafeTemporaryAllocation(of: UInt16.self, capacity: headDim) { halves in
                    Kernels.convert(kh, into: halves.baseAddress!, as: .f16, count: headDim)
                    for i in 0..<headDim { key[i * step] = halves[i] }
                }
                Kernels.convert(vh, into: values.assumingMemoryBound(to: UInt16.self) + valueRow, as: .f16, count: headDim)
            } else {
                let key = keys.assumingMemoryBound(to: Float.self) + keyRow
                for i in 0..<headDim { key[i * step] = kh[i] }
                (values.assumingMemoryBound(to: Float.self) + valueRow).update(from: vh, count: headDim)
            }
        }
    }

    /// The kernel's description of `rows` query rows at positions `base ..< base + rows` of layer
    /// `layer` (their keys already stored): the filled slots, the ring's latest position, and the
    /// window a sliding-window layer sees.
    func attentionJob(layer: Int, queries: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, queryStride: Int,
                      rows: Int, base: Int, window: Int?) -> AttentionJob {
        let capacity = capacities[layer], offset = layerOffsets[layer]
        return AttentionJob(queries: queries, out: out, queryStride: queryStride, keys: keys + offset, values: values + offset,
                            headStride: headStride(layer), slots: min(base + rows, capacity), capacity: capacity,
                            last: base + rows - 1, rows: rows, base: base, window: window ?? 0)
    }

    deinit {
        Allocation.free(keys)
        Allocation.free(values)
    }
}
