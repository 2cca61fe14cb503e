import KilnCore
import KilnKernels

/// `q8_0`: 32 values, f16 scale `d`, int8 `q`, value `d × q`.
package struct Q8_0Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .q8_0 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        // Reference (ggml quantize_row_q8_0_ref, gguf-py Q8_0): d = amax / 127, q = round(x / d)
        // with halves away from zero, all in f32.
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, abs(x[i])) }
        var bestScale = amax / 127
        var bestError = Float.infinity
        if method == .search {
            bestError = errorFor(scale: bestScale, x, importance)
            for factor in QuantMath.scaleFactors where factor > 0.9 {
                let candidate = amax / 127 * factor
                // Scales whose quantised values would overflow int8 are not candidates.
                guard candidate * 127.5 >= amax else { continue }
                let e = errorFor(scale: candidate, x, importance)
                if e < bestError { bestError = e; bestScale = candidate }
            }
        }
        write(scale: bestScale, x, out)
    }

    /// A whole row in C, one block per vector lane (ScaleSearch.q8_0Blocks): the bytes of
    /// `quantizeBlock`, block by block, which stays as the reference the tests hold it to.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        ScaleSearch.q8_0Blocks(x, importance: importance, count: count / 32, search: method == .search, into: out)
    }

    private func write(scale d: Float, _ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let id: Float = d == 0 ? 0 : 1 / d
        QuantMath.storeHalf(d, out, 0)
        for i in 0..<32 {
            let q = (x[i] * id).rounded(.toNearestOrAwayFromZero)
            out.storeBytes(of: Int8(max(-128, min(127, q))), toByteOffset: 2 + i, as: Int8.self)
        }
    }

    private func errorFor(scale d: Float, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float {
        let id: Float = d == 0 ? 0 : 1 / d
        let stored = QuantMath.roundedToHalf(d)
        return QuantMath.error(x, importance, 32) { i in
            stored * max(-128, min(127, (x[i] * id).rounded(.toNearestOrAwayFromZero)))
        }
    }
}
