import KilnCore
import KilnKernels

/// `q2_k` (docs/FORMAT.md §7.2): 256 values in 16 groups of 16, each group with a 4-bit scale
/// (low nibble) and 4-bit minimum (high nibble) against the block's f16 `d` and `dmin` (stored
/// last); value `d·sc·q − dmin·m` with 2-bit `q`.
package struct Q2_KQuantizer: KQuantizer {
    package init() {}
    package var type: ElementType { .q2_k }

    /// The sixteen groups' fits in C, one group per vector lane (`ScaleSearch.kquantFit16Absolute`):
    /// the bits of `swiftFitGroups`, its twin. In Swift they were three fifths of a q2_K
    /// quantisation.
    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        fitGroups(x, importance: importance, into: fit, tier: Kernels.tier)
    }

    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit, tier: KernelTier) {
        ScaleSearch.kquantFit16Absolute(x, importance: importance, groups: 16, maxLevel: 3, rmin: -0.5, rdelta: 0.1, steps: 15,
                                        scales: fit.scales, minima: fit.mins, levels: fit.levels, tier: tier)
    }

    /// `fitGroups` in Swift: the twin the C lanes are held to (ScaleSearchTests).
    package func swiftFitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { weights in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { scratch in
                for j in 0..<16 {
                    let g = x + 16 * j
                    for l in 0..<16 { weights[l] = abs(g[l]) * (importance?[16 * j + l] ?? 1) }
                    // ggml fits 2-bit groups by weighted absolute error.
                    let (scale, minimum) = KQuantMath.affine(16, 3, g, weights.baseAddress!, fit.levels + 16 * j, scratch: scratch.baseAddress!,
                                                             rmin: -0.5, rdelta: 0.1, steps: 15, absolute: true)
                    fit.scales[j] = scale
                    fit.mins[j] = minimum
                }
            }
        }
    }

    package func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<16 {
            if fit.scales[j] > maxScale { maxScale = fit.scales[j] }
            if fit.mins[j] > maxMin { maxMin = fit.mins[j] }
        }
        if scaleFactor != 1 { maxScale *= scaleFactor }
        for j in 0..<16 {
            var packed: UInt8 = 0
            if maxScale > 0 {
                // ggml stores the rounded scale unclipped (it cannot exceed 15 at factor 1).
                let l = KQuantMath.nearestInt(15 / maxScale * fit.scales[j])
                packed = UInt8(truncatingIfNeeded: scaleFactor == 1 ? l : min(15, l))
            }
            if maxMin > 0 { packed |= UInt8(truncatingIfNeeded: KQuantMath.nearestInt(15 / maxMin * fit.mins[j]) << 4) }
            out.storeBytes(of: packed, toByteOffset: j, as: UInt8.self)
        }
        QuantMath.storeHalf(maxScale > 0 ? maxScale / 15 : 0, out, 80)
        QuantMath.storeHalf(maxMin > 0 ? maxMin / 15 : 0, out, 82)
        relevel(x, fit.levels, block: out)
    }

    private func relevel(_ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>, block out: UnsafeMutableRawPointer) {
        let d = Q4_KQuantizer.half(out, 80), dmin = Q4_KQuantizer.half(out, 82)
        for j in 0..<16 {
            let sc = out.load(fromByteOffset: j, as: UInt8.self)
            let dj = d * Float(sc & 0xF)
            guard dj != 0 else { continue }
            let dm = dmin * Float(sc >> 4)
            // UInt8(max(0, min(3, nearestInt((x + dm) / dj)))) for each value, in C (as q4_K's).
            ScaleSearch.roundLevels(x + 16 * j, count: 16, offset: dm, scale: dj, lowest: 0, highest: 3, bias: 0, into: levels + 16 * j)
        }
        for n in 0..<2 {
            let L = levels + 128 * n
            for l in 0..<32 {
                out.storeBytes(of: L[l] | L[l + 32] << 2 | L[l + 64] << 4 | L[l + 96] << 6, toByteOffset: 16 + 32 * n + l, as: UInt8.self)
            }
        }
    }

    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let levels = buffer.baseAddress!
            for j in 0..<256 {
                let n = j / 128, k = (j % 128) / 32, l = j % 32
                levels[j] = (block.load(fromByteOffset: 16 + 32 * n + l, as: UInt8.self) >> (2 * k)) & 3
            }
            let sc = (0..<16).map { block.load(fromByteOffset: $0, as: UInt8.self) }
            let fitted = importance == nil
                ? KQuantMath.fitScaleAndMinUniform(x, 256, a: { Int(sc[$0 / 16] & 0xF) * Int(levels[$0]) }, b: { Int(sc[$0 / 16] >> 4) })
                : KQuantMath.fitScaleAndMin(x, importance, 256, a: { Float(sc[$0 / 16] & 0xF) * Float(levels[$0]) },
                                            b: { Float(sc[$0 / 16] >> 4) })
            guard let (d, m) = fitted else { return false }
            QuantMath.storeHalf(d, block, 80)
            QuantMath.storeHalf(m, block, 82)
            relevel(x, levels, block: block)
            return true
        }
    }
}
