import KilnCore
import KilnKernels

/// Keys and values of every layer for up to `capacity` positions, as f32 or (half the memory)
/// f16, laid out for attention as matrix products: per layer and KV head, the keys are a
/// `[capacity, headDim]` matrix (row t = position t) and the values its transpose, `[headDim,
/// capacity]`, so `S = Q·Kᵀ` and `S·V` read them as weight matrices with no copy (the values as a
/// strided view of the first `positions` columns). Sized once for the context, so generation
/// never allocates.
final class KVCache {
    let layers: Int
    let capacity: Int
    let kvHeads: Int
    let headDim: Int
    let precision: KVView.Precision
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    private var elementBytes: Int { precision == .f16 ? 2 : 4 }
    private var elementType: ElementType { precision == .f16 ? .f16 : .f32 }

    /// Throws instead of trapping or aborting when the size overflows or the system refuses the
    /// memory (callers check `ContextLimits` first; this is the last line).
    init(layers: Int, capacity: Int, kvHeads: Int, headDim: Int, precision: KVView.Precision = .f32) throws {
        self.layers = layers
        self.capacity = capacity
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.precision = precision
        var bytes = precision == .f16 ? 2 : 4
        for factor in [layers, capacity, kvHeads, headDim] { bytes = try Checked.multiply(bytes, factor, "KV cache bytes") }
        keys = try Allocation.bytes(bytes, for: "the KV cache's keys (\(capacity) positions)")
        do {
            values = try Allocation.bytes(bytes, for: "the KV cache's values (\(capacity) positions)")
        } catch {
            Allocation.free(keys)
            throw error
        }
    }

    var bytes: Int { 2 * layers * capacity * kvHeads * headDim * elementBytes }

    /// Byte offset of layer `layer`, head `head`'s block (capacity × headDim elements).
    private func block(_ layer: Int, _ head: Int) -> Int { (layer * kvHeads + head) * capacity * headDim * elementBytes }

    /// Stores one position's keys and values (each `kvHeads × headDim` f32 values, head-major).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for head in 0..<kvHeads {
            let key = keys + block(layer, head) + position * headDim * elementBytes
            let value = values + block(layer, head) + position * elementBytes
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

    /// Head `head`'s keys at positions 0 ..< `positions`: `[positions, headDim]`.
    func keyMatrix(layer: Int, head: Int, positions: Int) -> WeightMatrix {
        WeightMatrix(type: elementType, rows: positions, cols: headDim, data: keys + block(layer, head))
    }

    /// Head `head`'s values at positions 0 ..< `positions`, transposed: `[headDim, positions]`.
    func valueMatrix(layer: Int, head: Int, positions: Int) -> WeightMatrix {
        WeightMatrix(type: elementType, rows: headDim, cols: positions, rowStride: capacity, data: values + block(layer, head))
    }

    deinit {
        Allocation.free(keys)
        Allocation.free(values)
    }
}
