import KilnCore

/// The scalar reference for matrix products: the oracle every C tier is tested against.
/// Quantised weights meet activations quantised exactly as the C tiers do it, and every product
/// and sum is taken in Double from the registry's decoded values.
enum Reference {
    /// Activation quantisation, per block of 32: d = max|x| / 127, q = round-to-nearest-even(x ·
    /// 127/max|x|) (0 for an all-zero block), sum = Σq. Every tier produces the same bits.
    static func quantize(
        _ x: UnsafePointer<Float>, cols: Int, q: UnsafeMutablePointer<Int8>, d: UnsafeMutablePointer<Float>,
        sum: UnsafeMutablePointer<Int32>
    ) {
        for b in 0..<(cols / 32) {
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[b * 32 + j])) }
            let inverse: Float = amax > 0 ? 127 / amax : 0
            var s: Int32 = 0
            for j in 0..<32 {
                let v = Int8((x[b * 32 + j] * inverse).rounded(.toNearestOrEven))
                q[b * 32 + j] = v
                s += Int32(v)
            }
            d[b] = amax / 127
            sum[b] = s
        }
    }

    static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        if WeightMatrix.quantizesActivations(w.type) {
            quantizedMatmul(w, x, batch: batch, y)
        } else {
            dequantizingMatmul(w, x, batch: batch, y)
        }
    }

    /// Quantised weights with a kernel: the activations quantised as the C tiers do it, then each
    /// registry-decoded weight times its dequantised activation d·q, summed in Double. The C tiers
    /// compute the same sum as exact integer block dots scaled in f32, so the two differ only by f32
    /// rounding of the scale products — and this twin shares nothing with them but the
    /// activation quantisation (itself tested on every tier).
    private static func quantizedMatmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        let nb = w.cols / 32
        var q = [Int8](repeating: 0, count: batch * w.cols)
        var d = [Float](repeating: 0, count: batch * nb)
        var sums = [Int32](repeating: 0, count: batch * nb)
        for b in 0..<batch { quantize(x + b * w.cols, cols: w.cols, q: &q[b * w.cols], d: &d[b * nb], sum: &sums[b * nb]) }
        let values = UnsafeMutablePointer<Float>.allocate(capacity: max(1, w.cols))
        defer { values.deallocate() }
        let base = w.rowMajorType
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, w.cols / base.blockElements * base.blockBytes), alignment: 16)
        defer { scratch.deallocate() }
        for r in 0..<w.rows {
            w.withRowMajorRow(r, scratch: scratch) { base.decodeBlocks($0, blocks: w.cols / base.blockElements, into: values) }
            for b in 0..<batch {
                var total = 0.0
                for k in 0..<w.cols {
                    total += Double(values[k]) * (Double(d[b * nb + k / 32]) * Double(q[b * w.cols + k]))
                }
                y[b * w.rows + r] = Float(total)
            }
        }
    }

    /// Every other type, and the float types: decode a row through the registry, then a Double dot.
    private static func dequantizingMatmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        let values = UnsafeMutablePointer<Float>.allocate(capacity: max(1, w.cols))
        defer { values.deallocate() }
        let base = w.rowMajorType
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, w.cols / base.blockElements * base.blockBytes), alignment: 16)
        defer { scratch.deallocate() }
        for r in 0..<w.rows {
            w.withRowMajorRow(r, scratch: scratch) { base.decodeBlocks($0, blocks: w.cols / base.blockElements, into: values) }
            for b in 0..<batch {
                var total = 0.0
                for k in 0..<w.cols { total += Double(values[k]) * Double(x[b * w.cols + k]) }
                y[b * w.rows + r] = Float(total)
            }
        }
    }
}
