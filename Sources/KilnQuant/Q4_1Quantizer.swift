import KilnCore
import KilnKernels

/// `q4_1`: 32 values, f16 scale `d` and minimum `m`, 4-bit `q`, value `d × q + m`.
package struct Q4_1Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .q4_1 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        // Reference (ggml quantize_row_q4_1_ref, gguf-py Q4_1): d = (max − min) / 15,
        // q = trunc((x − min) / d + 0.5) clipped to 0…15, m = min.
        var lo = x[0], hi = x[0]
        for i in 1..<32 { lo = min(lo, x[i]); hi = max(hi, x[i]) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let levels = buffer.baseAddress!
            var d = (hi - lo) / 15, m = lo
            let id: Float = d == 0 ? 0 : 1 / d
            for i in 0..<32 { levels[i] = UInt8(max(0, min(15, ((x[i] - lo) * id + 0.5).rounded(.towardZero)))) }
            if method == .search && hi > lo {
                (d, m) = ScaleSearch.affine(x, importance: importance, maxLevel: 15, low: lo, high: hi, scale: d, minimum: m, levels: levels)
            }
            QuantMath.storeHalf(d, out, 0)
            QuantMath.storeHalf(m, out, 2)
            for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 4 + j, as: UInt8.self) }
        }
    }
}
