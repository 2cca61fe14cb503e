import KilnCore

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
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            let levels = buffer.baseAddress!, candidate = levels + 32
            var d = (hi - lo) / 15, m = lo
            let id: Float = d == 0 ? 0 : 1 / d
            for i in 0..<32 { levels[i] = UInt8(max(0, min(15, ((x[i] - lo) * id + 0.5).rounded(.towardZero)))) }

            if method == .search && hi > lo {
                var bestError = Self.error(d, m, levels, x, importance)
                // Shrink the range from either end, then alternate between choosing levels and
                // a weighted least-squares fit of (d, m), scoring the f16 values actually stored.
                for shrinkLow in [Float(0), 0.05, 0.1] {
                    for shrinkHigh in [Float(0), 0.05, 0.1] {
                        var cm = lo + (hi - lo) * shrinkLow
                        var cd = ((hi - (hi - lo) * shrinkHigh) - cm) / 15
                        for _ in 0..<2 {
                            let sd = QuantMath.roundedToHalf(cd), sm = QuantMath.roundedToHalf(cm)
                            guard sd > 0 else { break }
                            let inverse = 1 / sd
                            for i in 0..<32 { candidate[i] = UInt8(max(0, min(15, ((x[i] - sm) * inverse).rounded()))) }
                            let e = Self.error(sd, sm, candidate, x, importance)
                            if e < bestError {
                                bestError = e; d = sd; m = sm
                                levels.update(from: candidate, count: 32)
                            }
                            guard let fit = Self.fit(candidate, x, importance) else { break }
                            (cd, cm) = fit
                        }
                    }
                }
            }
            QuantMath.storeHalf(d, out, 0)
            QuantMath.storeHalf(m, out, 2)
            for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 4 + j, as: UInt8.self) }
        }
    }

    /// Weighted least squares for x ≈ d·q + m.
    static func fit(_ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> (Float, Float)? {
        var sw: Float = 0, sq: Float = 0, sqq: Float = 0, sx: Float = 0, sqx: Float = 0
        for i in 0..<32 {
            let w = QuantMath.weight(importance, i), q = Float(levels[i])
            sw += w; sq += w * q; sqq += w * q * q; sx += w * x[i]; sqx += w * q * x[i]
        }
        let det = sw * sqq - sq * sq
        guard det > 0 else { return nil }
        let d = (sw * sqx - sq * sx) / det
        let m = (sqq * sx - sq * sqx) / det
        return d > 0 ? (d, m) : nil
    }

    static func error(_ d: Float, _ m: Float, _ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float {
        let sd = QuantMath.roundedToHalf(d), sm = QuantMath.roundedToHalf(m)
        return QuantMath.error(x, importance, 32) { Float(levels[$0]) * sd + sm }
    }
}
