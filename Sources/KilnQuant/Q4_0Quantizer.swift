import KilnCore

/// `q4_0`: 32 values, f16 scale `d`, 4-bit `q`, value `d × (q − 8)`.
package struct Q4_0Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .q4_0 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        // Reference (ggml quantize_row_q4_0_ref, gguf-py Q4_0): the signed value of largest
        // magnitude maps to −8, d = max / −8, q = trunc(x / d + 8.5) clipped to 0…15.
        var maximum: Float = 0
        for i in 0..<32 where abs(x[i]) > abs(maximum) { maximum = x[i] }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            let levels = buffer.baseAddress!, candidate = levels + 32
            Self.reference(scale: maximum / -8, x, into: levels)
            var bestScale = maximum / -8
            if method == .search && maximum != 0 {
                var bestError = Self.error(QuantMath.roundedToHalf(bestScale), levels, x, importance)
                // Both signs: the extreme value may sit at −8 (full range) or +7.
                for base in [maximum / -8, maximum / 7] {
                    for factor in QuantMath.scaleFactors {
                        // Levels for a trial scale, then the weighted least-squares scale for those
                        // levels, rounded to the f16 actually stored, and levels for that scale.
                        Self.nearest(scale: base * factor, x, into: candidate)
                        guard let fit = Self.leastSquaresScale(candidate, x, importance) else { continue }
                        let scale = QuantMath.roundedToHalf(fit)
                        guard scale != 0 else { continue }
                        Self.nearest(scale: scale, x, into: candidate)
                        let e = Self.error(scale, candidate, x, importance)
                        if e < bestError {
                            bestError = e
                            bestScale = scale
                            levels.update(from: candidate, count: 32)
                        }
                    }
                }
            }
            QuantMath.storeHalf(bestScale, out, 0)
            for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 2 + j, as: UInt8.self) }
        }
    }

    /// gguf-py's arithmetic exactly: f32 reciprocal and multiply, then + 8.5 and truncate.
    static func reference(scale d: Float, _ x: UnsafePointer<Float>, into levels: UnsafeMutablePointer<UInt8>) {
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(max(0, min(15, (x[i] * id + 8.5).rounded(.towardZero)))) }
    }

    static func nearest(scale d: Float, _ x: UnsafePointer<Float>, into levels: UnsafeMutablePointer<UInt8>) {
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(max(0, min(15, (x[i] * id).rounded() + 8))) }
    }

    static func leastSquaresScale(_ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float? {
        var numerator: Float = 0, denominator: Float = 0
        for i in 0..<32 {
            let q = Float(Int(levels[i]) - 8), w = QuantMath.weight(importance, i)
            numerator += w * x[i] * q
            denominator += w * q * q
        }
        return denominator > 0 ? numerator / denominator : nil
    }

    static func error(_ d: Float, _ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float {
        let stored = QuantMath.roundedToHalf(d)
        return QuantMath.error(x, importance, 32) { stored * Float(Int(levels[$0]) - 8) }
    }
}
