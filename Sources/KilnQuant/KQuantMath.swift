/// The scale searches ggml's reference K-quant writers run on each 16- or 32-value group,
/// written from their description (docs/QUANTIZATION.md) with every f32 operation in ggml's
/// order, so that Kiln's `rtn` output is byte-identical to `llama-quantize` without an imatrix.
/// Each also takes optional per-value weights, which is how Kiln's search reuses them.
enum KQuantMath {
    /// ggml's `nearest_int`: adding 1.5·2²³ leaves the rounded integer in the low mantissa bits,
    /// rounding halves to even (unlike `Float.rounded()`, which rounds them away from zero).
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int {
        Int(Int32(bitPattern: (value + 12_582_912).bitPattern & 0x007F_FFFF)) - 0x0040_0000
    }

    /// Below this a group's largest magnitude counts as zero (ggml's `GROUP_MAX_EPS`).
    static let groupEpsilon: Float = 1e-15

    /// Symmetric levels −nmax…nmax−1 (stored offset by nmax) for `n` values and the scale that
    /// maximises Σwxl² / Σwl² over 19 trial scales around the one mapping the signed extreme to
    /// −nmax (ggml's `make_qx_quants` with `rmse_type` 1). Weights default to x².
    static func symmetric(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>,
                          weights: UnsafePointer<Float>? = nil) -> Float {
        var maximum: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); maximum = x[i] }
        guard amax >= groupEpsilon else {
            for i in 0..<n { levels[i] = 0 }
            return 0
        }
        @inline(__always) func weight(_ i: Int) -> Float { weights?[i] ?? x[i] * x[i] }
        @inline(__always) func level(_ iscale: Float, _ i: Int) -> Int { max(-nmax, min(nmax - 1, nearestInt(iscale * x[i]))) }
        var iscale = Float(-nmax) / maximum
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = level(iscale, i)
            levels[i] = UInt8(l + nmax)
            let w = weight(i), fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maximum
            sumlx = 0; suml2 = 0
            for i in 0..<n {
                let w = weight(i), fl = Float(level(iscale, i))
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n { levels[i] = UInt8(level(iscale, i) + nmax) }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// Q3_K's group search (ggml's `make_q3_quants` with `do_rmse`): levels −nmax…nmax−1 for the
    /// scale mapping the signed extreme to −nmax, then up to five passes that move one level at a
    /// time when that raises Σwxl² / Σwl² (weights x²). Levels are stored offset by nmax.
    static func q3Group(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>) -> Float {
        var maximum: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); maximum = x[i] }
        guard amax >= groupEpsilon else {
            for i in 0..<n { levels[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / maximum
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { buffer in
            let l = buffer.baseAddress!
            var sumlx: Float = 0, suml2: Float = 0
            for i in 0..<n {
                l[i] = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
                let w = x[i] * x[i], fl = Float(l[i])
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            for _ in 0..<5 {
                var changed = 0
                for i in 0..<n {
                    let w = x[i] * x[i], fl = Float(l[i])
                    var slx = sumlx - w * x[i] * fl
                    guard slx > 0 else { continue }
                    var sl2 = suml2 - w * fl * fl
                    let candidate = max(-nmax, min(nmax - 1, nearestInt(x[i] * sl2 / slx)))
                    guard candidate != l[i] else { continue }
                    let fc = Float(candidate)
                    slx += w * x[i] * fc
                    sl2 += w * fc * fc
                    if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l[i] = candidate; sumlx = slx; suml2 = sl2
                        changed += 1
                    }
                }
                if changed == 0 { break }
            }
            for i in 0..<n { levels[i] = UInt8(l[i] + nmax) }
            return suml2 > 0 ? sumlx / suml2 : 0
        }
    }

    /// Levels 0…nmax with a scale and a minimum (x ≈ scale·l − min, min ≥ 0): the range's own
    /// scale first, then `steps + 1` trial scales `(rmin + rdelta·k + nmax) / range`, each followed
    /// by the weighted least-squares (scale, min) for its levels, keeping the lowest weighted
    /// error, absolute (`absolute`) or squared (ggml's `make_qkx2_quants`). Returns (scale, min).
    static func affine(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                       _ levels: UnsafeMutablePointer<UInt8>, scratch: UnsafeMutablePointer<UInt8>,
                       rmin: Float, rdelta: Float, steps: Int, absolute: Bool) -> (scale: Float, min: Float) {
        var lo = x[0], hi = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if lo > 0 { lo = 0 }
        guard hi != lo else {
            for i in 0..<n { levels[i] = 0 }
            return (0, -lo)
        }
        @inline(__always) func penalty(_ d: Float) -> Float { absolute ? abs(d) : d * d }
        var iscale = Float(nmax) / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            levels[i] = UInt8(max(0, min(nmax, nearestInt(iscale * (x[i] - lo)))))
            bestError += weights[i] * penalty(scale * Float(levels[i]) + lo - x[i])
        }
        guard steps >= 1 else { return (scale, -lo) }
        // As in ggml, a better trial's minimum becomes the origin of the later trials' ranges.
        var minimum = lo
        for step in 0...steps {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - minimum)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - minimum))))
                scratch[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let det = sumW * sumL2 - sumL * sumL
            guard det > 0 else { continue }
            var trialScale = (sumW * sumXL - sumX * sumL) / det
            var trialMin = (sumL2 * sumX - sumL * sumXL) / det
            if trialMin > 0 {
                trialMin = 0
                trialScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n { error += weights[i] * penalty(trialScale * Float(scratch[i]) + trialMin - x[i]) }
            if error < bestError {
                levels.update(from: scratch, count: n)
                bestError = error
                scale = trialScale
                minimum = trialMin
            }
        }
        return (scale, -minimum)
    }
}
