import KilnCore

/// The scale search of the 32-value symmetric types (`q4_0`, `q5_0`: value `d × (q − offset)`,
/// q in 0…2·offset−1): trial scales around the extreme value at either end of the range, each
/// refined by a weighted least-squares fit for its levels and scored on the f16 actually stored.
struct SymmetricSearch {
    let offset: Int
    private var top: Int { 2 * offset - 1 }

    /// Returns the best scale, starting from `scale` with `levels` (updated in place when beaten).
    func improve(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, maximum: Float, scale: Float,
                 levels: UnsafeMutablePointer<UInt8>) -> Float {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let candidate = buffer.baseAddress!
            var bestScale = scale
            var bestError = error(QuantMath.roundedToHalf(scale), levels, x, importance)
            // Both signs: the extreme value may sit at the bottom level (full range) or the top.
            for base in [maximum / Float(-offset), maximum / Float(offset - 1)] {
                for factor in QuantMath.scaleFactors {
                    nearest(scale: base * factor, x, into: candidate)
                    guard let fit = leastSquaresScale(candidate, x, importance) else { continue }
                    let s = QuantMath.roundedToHalf(fit)
                    guard s != 0 else { continue }
                    nearest(scale: s, x, into: candidate)
                    let e = error(s, candidate, x, importance)
                    if e < bestError {
                        bestError = e
                        bestScale = s
                        levels.update(from: candidate, count: 32)
                    }
                }
            }
            return bestScale
        }
    }

    func nearest(scale d: Float, _ x: UnsafePointer<Float>, into levels: UnsafeMutablePointer<UInt8>) {
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(max(0, min(Float(top), (x[i] * id).rounded() + Float(offset)))) }
    }

    func leastSquaresScale(_ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float? {
        var numerator: Float = 0, denominator: Float = 0
        for i in 0..<32 {
            let q = Float(Int(levels[i]) - offset), w = QuantMath.weight(importance, i)
            numerator += w * x[i] * q
            denominator += w * q * q
        }
        return denominator > 0 ? numerator / denominator : nil
    }

    func error(_ d: Float, _ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float {
        let stored = QuantMath.roundedToHalf(d)
        return QuantMath.error(x, importance, 32) { stored * Float(Int(levels[$0]) - offset) }
    }
}

/// The scale-and-minimum search of the 32-value affine types (`q4_1`, `q5_1`: value `d × q + m`,
/// q in 0…maxLevel): the range shrunk from either end, then alternating level choice and a
/// weighted least-squares fit of (d, m), scored on the f16 values actually stored.
struct AffineSearch {
    let maxLevel: Int

    /// Returns the best (d, m), starting from the given ones with `levels` (updated in place when beaten).
    func improve(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, low lo: Float, high hi: Float,
                 scale: Float, minimum: Float, levels: UnsafeMutablePointer<UInt8>) -> (Float, Float) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let candidate = buffer.baseAddress!
            var d = scale, m = minimum
            var bestError = error(d, m, levels, x, importance)
            let top = Float(maxLevel)
            for shrinkLow in [Float(0), 0.05, 0.1] {
                for shrinkHigh in [Float(0), 0.05, 0.1] {
                    var cm = lo + (hi - lo) * shrinkLow
                    var cd = ((hi - (hi - lo) * shrinkHigh) - cm) / top
                    for _ in 0..<2 {
                        let sd = QuantMath.roundedToHalf(cd), sm = QuantMath.roundedToHalf(cm)
                        guard sd > 0 else { break }
                        let inverse = 1 / sd
                        for i in 0..<32 { candidate[i] = UInt8(max(0, min(top, ((x[i] - sm) * inverse).rounded()))) }
                        let e = error(sd, sm, candidate, x, importance)
                        if e < bestError {
                            bestError = e; d = sd; m = sm
                            levels.update(from: candidate, count: 32)
                        }
                        guard let fit = fit(candidate, x, importance) else { break }
                        (cd, cm) = fit
                    }
                }
            }
            return (d, m)
        }
    }

    /// Weighted least squares for x ≈ d·q + m.
    func fit(_ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> (Float, Float)? {
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

    func error(_ d: Float, _ m: Float, _ levels: UnsafePointer<UInt8>, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?) -> Float {
        let sd = QuantMath.roundedToHalf(d), sm = QuantMath.roundedToHalf(m)
        return QuantMath.error(x, importance, 32) { Float(levels[$0]) * sd + sm }
    }
}
