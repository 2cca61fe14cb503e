import KilnCore

/// The scalar reference for matrix products: the oracle every C tier is tested against.
/// Quantised weights meet activations quantised exactly as the C tiers do it (so the integer
/// dots agree exactly), and everything after the integer dots is accumulated in Double.
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
        let base = w.rowMajorType
        switch base {
        case .q8_0, .q4_0, .q4_1: quantizedMatmul(w, base: base, x, batch: batch, y)
        default: dequantizingMatmul(w, x, batch: batch, y)
        }
    }

    private static func quantizedMatmul(
        _ w: WeightMatrix, base: ElementType, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>
    ) {
        let nb = w.cols / 32
        var q = [Int8](repeating: 0, count: batch * w.cols)
        var d = [Float](repeating: 0, count: batch * nb)
        var sums = [Int32](repeating: 0, count: batch * nb)
        for b in 0..<batch { quantize(x + b * w.cols, cols: w.cols, q: &q[b * w.cols], d: &d[b * nb], sum: &sums[b * nb]) }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, nb * base.blockBytes), alignment: 16)
        defer { scratch.deallocate() }
        for r in 0..<w.rows {
            w.withRowMajorRow(r, scratch: scratch) { row in
                for b in 0..<batch {
                    var total = 0.0
                    for i in 0..<nb {
                        let block = row + i * base.blockBytes
                        let xq = b * w.cols + i * 32
                        let scale = Double(half(block, 0)) * Double(d[b * nb + i])
                        var dot = 0
                        switch base {
                        case .q8_0:
                            for j in 0..<32 { dot += Int(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self))) * Int(q[xq + j]) }
                            total += scale * Double(dot)
                        case .q4_0:
                            for j in 0..<16 {
                                let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                                dot += (Int(byte & 15) - 8) * Int(q[xq + j]) + (Int(byte >> 4) - 8) * Int(q[xq + j + 16])
                            }
                            total += scale * Double(dot)
                        default:  // q4_1
                            for j in 0..<16 {
                                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                                dot += Int(byte & 15) * Int(q[xq + j]) + Int(byte >> 4) * Int(q[xq + j + 16])
                            }
                            total += scale * Double(dot) + Double(half(block, 2)) * Double(d[b * nb + i]) * Double(sums[b * nb + i])
                        }
                    }
                    y[b * w.rows + r] = Float(total)
                }
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

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }
}
