import KilnCore
import KilnFormats
import KilnKernels

/// Keys and values of every layer, as f32 or (half the memory) f16, laid out for attention as
/// matrix products: per layer and KV head, the keys are a `[capacity, headDim]` matrix (row = a
/// slot) and the values its transpose, `[headDim, capacity]`, so `S = Q·Kᵀ` and `S·V` read them
/// as weight matrices with no copy (the values as a strided view of the first slots). A layer
/// holds the whole context (slot = position), or, for a sliding-window layer, a ring of
/// `2·window − 1` slots (slot = position mod capacity): the window the attention needs plus room
/// for a chunk of `window` new rows (`ForwardPass` splits longer chunks). Sized once for the
/// context, so generation never allocates.
final class KVCache {
    let layers: Int
    /// Slots per layer: the context length, or a sliding-window layer's ring.
    let capacities: [Int]
    let kvHeads: Int
    let headDim: Int
    let precision: KVView.Precision
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    /// Byte offset of each layer's block of `kvHeads × capacity × headDim` elements.
    private let layerOffsets: [Int]
    private var elementBytes: Int { precision == .f16 ? 2 : 4 }
    private var elementType: ElementType { precision == .f16 ? .f16 : .f32 }
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
    init(capacities: [Int], kvHeads: Int, headDim: Int, precision: KVView.Precision = .f32) throws {
        layers = capacities.count
        self.capacities = capacities
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.precision = precision
        var offsets: [Int] = []
        var total = 0
        for capacity in capacities {
            offsets.append(total)
            var layerBytes = precision == .f16 ? 2 : 4
            for factor in [capacity, kvHeads, headDim] { layerBytes = try Checked.multiply(layerBytes, factor, "KV cache bytes") }
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

    /// Byte offset of layer `layer`, head `head`'s block (capacity × headDim elements).
    private func block(_ layer: Int, _ head: Int) -> Int { layerOffsets[layer] + head * capacities[layer] * headDim * elementBytes }

    /// Stores one position's keys and values (each `kvHeads × headDim` f32 values, head-major)
    /// in the position's slot.
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let capacity = capacities[layer], slot = position % capacity
        for head in 0..<kvHeads {
            let key = keys + block(layer, head) + slot * headDim * elementBytes
            let value = values + block(layer, head) + slot * elementBytes
            let kh = k + head * headDim, vh = v + head * headDim
            if precision == .f16 {
                Kernels.convert(kh, into: key.assumingMemoryBound(to: UInt16.self), as: .f16, count: headDim)
                let column = value.assumingMemoryBound(to: UInt16.self)
                for i in 0..<headDim { column[i * capacity] = HalfPrecision.halfFromFloat(vh[i]) }
            } else {
                key.assumingMemoryBound(to: Float.self).update(from: kh, count: headDim)
                let column = value.assumingMemoryBound(to: Float.self)
                for i in 0..<headDim { column[i * capacity] = vh[i] }
            }
        }
    }

    /// Head `head`'s keys in slots 0 ..< `slots`: `[slots, headDim]`.
    func keyMatrix(layer: Int, head: Int, positions slots: Int) -> WeightMatrix {
        WeightMatrix(type: elementType, rows: slots, cols: headDim, data: keys + block(layer, head))
    }

    /// Head `head`'s values in slots 0 ..< `slots`, transposed: `[headDim, slots]`.
    func valueMatrix(layer: Int, head: Int, positions slots: Int) -> WeightMatrix {
        WeightMatrix(type: elementType, rows: headDim, cols: slots, rowStride: capacities[layer], data: values + block(layer, head))
    }

    deinit {
        Allocation.free(keys)
        Allocation.free(values)
    }
}
