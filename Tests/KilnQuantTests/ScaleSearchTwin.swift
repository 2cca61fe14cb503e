import KilnCore

/// A second, plain implementation of the C scale searches (Sources/CKilnKernels/quant_search.c),
/// written from their description: the same candidates, the same f32 operations in the same
/// order (every sum over a block as 16 pairwise partial sums, then halving; round half to even;
/// no fused multiply-add). Every tier must give exactly its bits.
enum ScaleSearchTwin {
    static let factors: [Float] = (0..<13).map { 0.82 + Float($0) * 0.025 }

    static func half(_ v: Float) -> Float { HalfPrecision.floatFromHalf(HalfPrecision.halfFromFloat(v)) }

    static func sum32(_ v: [Float]) -> Float {
        var p = (0..<16).map { v[$0] + v[$0 + 16] }
        for j in 0..<8 { p[j] = p[j] + p[j + 8] }
        for j in 0..<4 { p[j] = p[j] + p[j + 4] }
        return (p[0] + p[2]) + (p[1] + p[3])
    }

    /// round-half-even(v) clipped to 0…top, NaN to 0.
    static func clip(_ v: Float, _ top: Float) -> Float {
        let r = v > 0 ? v : 0
        return r < top ? r : top
    }

    static func symmetric(_ x: [Float], _ importance: [Float]?, offset: Int, maximum: Float, scale: Float,
                          levels: inout [UInt8]) -> Float {
        let w = importance ?? [Float](repeating: 1, count: 32)
        let wx = (0..<32).map { w[$0] * x[$0] }
        let offsetF = Float(offset), top = Float(2 * offset - 1)
        func nearest(_ d: Float) -> [Float] {
            let id: Float = d == 0 ? 0 : 1 / d
            return (0..<32).map { clip((x[$0] * id).rounded(.toNearestOrEven) + offsetF, top) }
        }
        func error(_ s: Float, _ q: [Float]) -> Float {
            sum32((0..<32).map { i in
                let diff = x[i] - s * (q[i] - offsetF)
                return (w[i] * diff) * diff
            })
        }
        var bestScale = scale
        var bestError = error(half(scale), levels.map(Float.init))
        for base in [maximum / Float(-offset), maximum / Float(offset - 1)] {
            for factor in factors {
                var q = nearest(base * factor)
                let c = q.map { $0 - offsetF }
                let numerator = sum32((0..<32).map { wx[$0] * c[$0] })
                let denominator = sum32((0..<32).map { (w[$0] * c[$0]) * c[$0] })
                guard denominator > 0 else { continue }
                let s = half(numerator / denominator)
                guard s != 0, !s.isNaN else { continue }
                q = nearest(s)
                let e = error(s, q)
                if e < bestError {
                    bestError = e
                    bestScale = s
                    levels = q.map { UInt8($0) }
                }
            }
        }
        return bestScale
    }

    static func affine(_ x: [Float], _ importance: [Float]?, maxLevel: Int, low lo: Float, high hi: Float,
                       scale: Float, minimum: Float, levels: inout [UInt8]) -> (Float, Float) {
        let w = importance ?? [Float](repeating: 1, count: 32)
        let wx = (0..<32).map { w[$0] * x[$0] }
        let top = Float(maxLevel)
        let sw = sum32(w), sx = sum32(wx)
        func error(_ d: Float, _ m: Float, _ q: [Float]) -> Float {
            sum32((0..<32).map { i in
                let diff = x[i] - (q[i] * d + m)
                return (w[i] * diff) * diff
            })
        }
        var d = scale, m = minimum
        var bestError = error(half(d), half(m), levels.map(Float.init))
        for shrinkLow: Float in [0, 0.05, 0.1] {
            for shrinkHigh: Float in [0, 0.05, 0.1] {
                var cm = lo + (hi - lo) * shrinkLow
                var cd = ((hi - (hi - lo) * shrinkHigh) - cm) / top
                for _ in 0..<2 {
                    let sd = half(cd), sm = half(cm)
                    guard sd > 0 else { break }
                    let inverse = 1 / sd
                    let q = (0..<32).map { clip(((x[$0] - sm) * inverse).rounded(.toNearestOrEven), top) }
                    let e = error(sd, sm, q)
                    if e < bestError {
                        bestError = e; d = sd; m = sm
                        levels = q.map { UInt8($0) }
                    }
                    let wq = (0..<32).map { w[$0] * q[$0] }
                    let sq = sum32(wq)
                    let sqq = sum32((0..<32).map { wq[$0] * q[$0] })
                    let sqx = sum32((0..<32).map { wx[$0] * q[$0] })
                    let det = sw * sqq - sq * sq
                    guard det > 0 else { break }
                    let fd = (sw * sqx - sq * sx) / det
                    let fm = (sqq * sx - sq * sqx) / det
                    guard fd > 0 else { break }
                    cd = fd; cm = fm
                }
            }
        }
        return (d, m)
    }
}
