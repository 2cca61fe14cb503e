/// Keys and values of every layer for up to `capacity` positions, in f32: position `t` of
/// layer `l` is a row of `kvHeads × headDim` floats. Sized once for the context, so
/// generation never allocates.
final class KVCache {
    let layers: Int
    let capacity: Int
    let rowWidth: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    init(layers: Int, capacity: Int, rowWidth: Int) {
        self.layers = layers
        self.capacity = capacity
        self.rowWidth = rowWidth
        let count = layers * capacity * rowWidth
        keys = .allocate(capacity: count)
        values = .allocate(capacity: count)
    }

    var bytes: Int { 2 * layers * capacity * rowWidth * MemoryLayout<Float>.size }

    func keyRow(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + (layer * capacity + position) * rowWidth
    }

    func valueRow(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + (layer * capacity + position) * rowWidth
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }
}
