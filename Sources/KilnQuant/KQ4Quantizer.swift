import KilnCore
import KilnKernels

/// `kq4`: two 16-value groups per block, each with a log-scaled exponent byte, levels on
/// Kiln's non-uniform grid (KQ4). Always searched: the exponent of each group is chosen among
/// the neighbours of the nearest one and a weighted least-squares refit, by decoded error.
package struct KQ4Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .kq4 }

    /// Grid values and the midpoints between neighbours, for nearest-level lookup.
    static let grid = KQ4.grid.map(Float.init)
    static let midpoints = (0..<15).map { (grid[$0] + grid[$0 + 1]) / 2 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buffer in
            let levels = buffer.baseAddress!, scratch = levels + 32
            for half in 0..<2 {
                let e = Self.bestExponent(x + 16 * half, importance.map { $0 + 16 * half }, searchWidth: method == .search ? 3 : 0,
                                          levels: levels + 16 * half, scratch: scratch)
                out.storeBytes(of: UInt8(e), toByteOffset: half, as: UInt8.self)
            }
            for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 2 + j, as: UInt8.self) }
        }
    }

    /// A whole row: the same bytes as `quantizeBlock` block by block, with the trials of every
    /// 16-value group run in C, sixteen groups per vector (ScaleSearch.kq4Groups). The Swift
    /// trials below stay as the reference the tests hold this to, and pick the exponents to try.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        quantize(x, count: count, importance: importance, method: method, into: out, tier: Kernels.tier)
    }

    /// `quantize` with the C search compiled for `tier` (the tests run every tier).
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer, tier: KernelTier) {
        let groups = count / 16, width = method == .search ? 3 : 0, k = 2 * width + 1
        var candidates = [Int32](repeating: -1, count: groups * k), nearest = [Int](repeating: 0, count: groups)
        var bestError = [Float](repeating: .nan, count: groups), best = [Int32](repeating: 0, count: groups)
        var fit = [Float](repeating: 0, count: 2 * groups)
        var levels = [UInt8](repeating: Self.level(0), count: count)
        for g in 0..<groups {
            var amax: Float = 0
            for i in 0..<16 { amax = max(amax, abs(x[16 * g + i])) }
            guard amax > 0 else { continue }  // exponent 0, every level that of 0: no trials
            let e = KQ4.exponent(nearest: amax / 127)
            nearest[g] = e
            best[g] = Int32(e)
            // Trial order as bestExponent's: the nearest first, then the window upwards.
            var slot = g * k
            candidates[slot] = Int32(e)
            for c in Self.window(e, width) where c != e {
                slot += 1
                candidates[slot] = Int32(c)
            }
        }
        fit.withUnsafeMutableBufferPointer { fit in
            ScaleSearch.kq4Groups(x, importance: importance, count: groups, candidates: candidates, perGroup: k,
                                  bestError: &bestError, best: &best, fit: width > 0 ? fit.baseAddress : nil, levels: &levels,
                                  tier: tier)
        }
        if width > 0 {
            // The refit scale of the nearest exponent's levels may point outside the window: those
            // groups (few) try that exponent too, gathered into one more call.
            var outside: [(group: Int, exponent: Int)] = []
            for g in 0..<groups where candidates[g * k] >= 0 && fit[2 * g + 1] > 0 {
                let e = KQ4.exponent(nearest: fit[2 * g] / fit[2 * g + 1])
                if !Self.window(nearest[g], width).contains(e) { outside.append((g, e)) }
            }
            if !outside.isEmpty { retry(outside, x, importance, &bestError, &best, &levels, tier) }
        }
        for b in 0..<(count / 32) {
            out.storeBytes(of: UInt8(best[2 * b]), toByteOffset: 18 * b, as: UInt8.self)
            out.storeBytes(of: UInt8(best[2 * b + 1]), toByteOffset: 18 * b + 1, as: UInt8.self)
            for j in 0..<16 {
                out.storeBytes(of: levels[32 * b + j] | levels[32 * b + 16 + j] << 4, toByteOffset: 18 * b + 2 + j, as: UInt8.self)
            }
        }
    }

    /// One more trial for each listed group, continuing from its best so far.
    private func retry(_ groups: [(group: Int, exponent: Int)], _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?,
                       _ bestError: inout [Float], _ best: inout [Int32], _ levels: inout [UInt8], _ tier: KernelTier) {
        let n = groups.count
        var xs = [Float](repeating: 0, count: 16 * n), ws = importance == nil ? [] : [Float](repeating: 0, count: 16 * n)
        var candidates = [Int32](repeating: 0, count: n), errors = [Float](repeating: 0, count: n)
        var exponents = [Int32](repeating: 0, count: n), chosen = [UInt8](repeating: 0, count: 16 * n)
        for (slot, entry) in groups.enumerated() {
            for i in 0..<16 {
                xs[16 * slot + i] = x[16 * entry.group + i]
                if let importance { ws[16 * slot + i] = importance[16 * entry.group + i] }
                chosen[16 * slot + i] = levels[16 * entry.group + i]
            }
            candidates[slot] = Int32(entry.exponent)
            errors[slot] = bestError[entry.group]
            exponents[slot] = best[entry.group]
        }
        ws.withUnsafeBufferPointer { ws in
            ScaleSearch.kq4Groups(xs, importance: importance == nil ? nil : ws.baseAddress, count: n, candidates: candidates,
                                  perGroup: 1, bestError: &errors, best: &exponents, fit: nil, levels: &chosen, tier: tier)
        }
        for (slot, entry) in groups.enumerated() {
            bestError[entry.group] = errors[slot]
            best[entry.group] = exponents[slot]
            for i in 0..<16 { levels[16 * entry.group + i] = chosen[16 * slot + i] }
        }
    }

    /// The exponents tried around `nearest`: ±width, clamped to a byte.
    static func window(_ nearest: Int, _ width: Int) -> ClosedRange<Int> { max(0, nearest - width)...min(255, nearest + width) }

    static func level(_ r: Float) -> UInt8 {
        var lo = 0, hi = 15  // first midpoint above r
        while lo < hi {
            let mid = (lo + hi) / 2
            if r > midpoints[mid] { lo = mid + 1 } else { hi = mid }
        }
        return UInt8(lo)
    }

    private static func bestExponent(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, searchWidth: Int,
                                     levels: UnsafeMutablePointer<UInt8>, scratch chosen: UnsafeMutablePointer<UInt8>) -> Int {
        var amax: Float = 0
        for i in 0..<16 { amax = max(amax, abs(x[i])) }
        guard amax > 0 else {
            for i in 0..<16 { levels[i] = level(0) }
            return 0
        }
        let nearest = KQ4.exponent(nearest: amax / 127)
        // NaN: no trial yet. The first trial is kept whatever its error (values beyond the largest
        // scale overflow it to infinity), later ones only when strictly lower.
        var bestE = nearest, bestError = Float.nan
        /// Chooses levels for exponent `e`, keeps them if best so far, and returns the weighted
        /// least-squares scale for those levels.
        func trial(_ e: Int) -> Float? {
            let scale = KQ4.scales[e]
            var numerator: Float = 0, denominator: Float = 0, err: Float = 0
            for i in 0..<16 {
                let q = level(x[i] / scale)
                chosen[i] = q
                let g = grid[Int(q)], wi = QuantMath.weight(w, i)
                let diff = x[i] - g * scale
                err += wi * diff * diff
                numerator += wi * x[i] * g
                denominator += wi * g * g
            }
            if err < bestError || bestError.isNaN {
                bestError = err
                bestE = e
                levels.update(from: chosen, count: 16)
            }
            return denominator > 0 ? numerator / denominator : nil
        }
        let tried = window(nearest, searchWidth)
        let fitted = trial(nearest)
        guard searchWidth > 0 else { return bestE }
        for e in tried where e != nearest { _ = trial(e) }
        // The refit scale of the nearest exponent's levels may point outside the window.
        if let fitted, case let e = KQ4.exponent(nearest: fitted), !tried.contains(e) { _ = trial(e) }
        return bestE
    }
}
