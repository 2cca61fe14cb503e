import KilnKernels

/// Keys and values of every layer for up to `capacity` positions: position `t` of layer `l` is
/// a row of `kvHeads × headDim` values, stored as f32 or (half the memory) f16. Sized once for
/// the context, so generation never allocates.
final class KVCache {
    let layers: Int
    let capacity: Int
    let rowWidth: Int
    let precision: KVView.Precision
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    private var elementBytes: Int { precision == .f16 ? 2 : 4 }

    init(layers: Int, capacity: Int, rowWidth: Int, precision: KVView.Precision = .f32) {
        self.layers = layers
        self.capacity = capacity
        self.rowWidth = rowWidth
        self.precision = precision
        let bytes = layers * capacity * rowWidth * (precision == .f16 ? 2 : 4)
        keys = .allocate(byteCount: max(bytes, 1), alignment: 64)
        values = .allocate(byteCount: max(bytes, 1), alignment: 64)
    }

    var bytes: Int { 2 * layers * capacity * rowWidth * elementBytes }

    private func offset(_ layer: Int, _ position: Int) -> Int { ((layer * capacity + position) * rowWidth) * elementBytes }

    /// Stores one position's keys and values (each `rowWidth` f32 values).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let o = offset(layer, position)
        if precision == .f16 {
            Kernels.convert(k, into: (keys + o).assumingMemoryBound(to: UInt16.self), as: .f16, count: rowWidth)
            Kernels.convert(v, into: (values + o).assumingMemoryBound(to: UInt16.self), as: .f16, count: rowWidth)
        } else {
            (keys + o).assumingMemoryBound(to: Float.self).update(from: k, count: rowWidth)
            (values + o).assumingMemoryBound(to: Float.self).update(from: v, count: rowWidth)
        }
    }

    /// Views of one key/value head of `layer` over all positions.
    func views(layer: Int, headOffset: Int) -> (keys: KVView, values: KVView) {
        let o = offset(layer, 0) + headOffset * elementBytes
        return (KVView(base: keys + o, rowStride: rowWidth, precision: precision),
                KVView(base: values + o, rowStride: rowWidth, precision: precision))
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }
}
