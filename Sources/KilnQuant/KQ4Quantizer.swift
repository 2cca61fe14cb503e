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

    /// A whole row: the same bytes as `quantizeBlock` block by block, in C with the trials of
    /// sixteen groups per vector (ScaleSearch.kq4Row). The Swift trials below stay as the
    /// reference the tests hold it to.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        quantize(x, count: count, importance: importance, method: method, into: out, tier: Kernels.tier)
    }

    /// `quantize` with the C search compiled for `tier` (the tests run every tier).
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer, tier: KernelTier) {
        if ScaleSearch.kq4Row(x, importance: importance, count: count, width: method == .search ? 3 : 0, into: out, tier: tier) {
            return
        }
        // The C search could not allocate its scratch: the same bytes from the Swift trials
        // (slower, but no crash when memory is short).
        quantizeBlockByBlock(x, count: count, importance: importance, method: method, into: out)
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
