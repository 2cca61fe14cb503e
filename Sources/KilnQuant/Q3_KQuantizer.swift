import KilnCore
import KilnKernels

/// `q3_k` (docs/FORMAT.md §7.2): 256 values in 16 groups of 16, each group with a signed 6-bit
/// scale against the block's f16 `d`; value `d·sc·(q − 4)` with 3-bit `q`, whose low 2 bits are
/// in `qs` and whose high bit is in `hmask`.
package struct Q3_KQuantizer: KQuantizer {
    package init() {}
    package var type: ElementType { .q3_k }

    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { weights in
            for j in 0..<16 {
                let g = x + 16 * j
                if let importance {
                    // The weighted variant uses the 19-scale search with importance × x² weights.
                    for l in 0..<16 { weights[l] = importance[16 * j + l] * g[l] * g[l] }
                    fit.scales[j] = KQuantMath.symmetric(16, 4, g, fit.levels + 16 * j, weights: UnsafePointer(weights.baseAddress!))
                } else {
                    fit.scales[j] = KQuantMath.q3Group(16, 4, g, fit.levels + 16 * j)
                }
            }
        }
    }

    package func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer) {
        var maxScale: Float = 0, maxAbs: Float = 0
        for j in 0..<16 where abs(fit.scales[j]) > maxAbs {
            maxAbs = abs(fit.scales[j]); maxScale = fit.scales[j]
        }
        let scales = out + 96
        scales.initializeMemory(as: UInt8.self, repeating: 0, count: 12)
        if maxScale != 0 {
            let iscale = -32 / (scaleFactor == 1 ? maxScale : maxScale * scaleFactor)
            for j in 0..<16 {
                // ggml narrows to a signed byte, clips to −32…31 and stores it offset by 32: low
                // nibble in byte j % 8 (high nibble for j ≥ 8), top 2 bits in byte 8 + j % 4.
                let narrow = Int(Int8(truncatingIfNeeded: KQuantMath.nearestInt(iscale * fit.scales[j])))
                let l = UInt8(max(-32, min(31, narrow)) + 32)
                let low = scales.load(fromByteOffset: j % 8, as: UInt8.self)
                scales.storeBytes(of: low | (l & 0xF) << (j < 8 ? 0 : 4), toByteOffset: j % 8, as: UInt8.self)
                let high = scales.load(fromByteOffset: 8 + j % 4, as: UInt8.self)
                scales.storeBytes(of: high | (l >> 4) << (2 * (j / 4)), toByteOffset: 8 + j % 4, as: UInt8.self)
            }
            QuantMath.storeHalf(1 / iscale, out, 108)
        } else {
            QuantMath.storeHalf(0, out, 108)
        }
        relevel(x, fit.levels, block: out)
    }

    /// Signed scale of group `j` (−32…31) from the 12 packed bytes.
    private static func scale(_ j: Int, _ scales: UnsafeRawPointer) -> Int {
        let low = (scales.load(fromByteOffset: j % 8, as: UInt8.self) >> (j < 8 ? 0 : 4)) & 0xF
        let high = (scales.load(fromByteOffset: 8 + j % 4, as: UInt8.self) >> (2 * (j / 4))) & 3
        return Int(low | high << 4) - 32
    }

    private func relevel(_ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>, block out: UnsafeMutableRawPointer) {
        let d = Q4_KQuantizer.half(out, 108)
        for j in 0..<16 {
            let dj = d * Float(Self.scale(j, out + 96))
            guard dj != 0 else { continue }
            // UInt8(max(−4, min(3, nearestInt(x / dj))) + 4) for each value, in C (as q6_K's).
            ScaleSearch.roundLevels(x + 16 * j, count: 16, offset: 0, scale: dj, lowest: -4, highest: 3, bias: 4, into: levels + 16 * j)
        }
        // The high bit of value j is bit j / 32 of hmask[j % 32]; the low 2 bits of values
        // 128n + 32k + l are bits 2k… of qs[32n + l].
        for m in 0..<32 {
            var mask: UInt8 = 0
            for bit in 0..<8 where levels[32 * bit + m] > 3 { mask |= 1 << bit }
            out.storeBytes(of: mask, toByteOffset: m, as: UInt8.self)
        }
        for n in 0..<2 {
            let L = levels + 128 * n
            for l in 0..<32 {
                let packed = (L[l] & 3) | (L[l + 32] & 3) << 2 | (L[l + 64] & 3) << 4 | (L[l + 96] & 3) << 6
                out.storeBytes(of: packed, toByteOffset: 32 + 32 * n + l, as: UInt8.self)
            }
        }
    }

    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let levels = buffer.baseAddress!
            for j in 0..<256 {
                let n = j / 128, k = (j % 128) / 32, l = j % 32
                let low = (block.load(fromByteOffset: 32 + 32 * n + l, as: UInt8.self) >> (2 * k)) & 3
                let high = (block.load(fromByteOffset: j % 32, as: UInt8.self) >> (j / 32)) & 1
                levels[j] = low | high << 2
            }
            let scales = (0..<16).map { Float(Self.scale($0, block + 96)) }
            let fitted = importance == nil
                ? KQuantMath.fitScaleUniform(x, 256, a: { Int(scales[$0 / 16]) * (Int(levels[$0]) - 4) })
                : KQuantMath.fitScale(x, importance, 256, a: { scales[$0 / 16] * Float(Int(levels[$0]) - 4) })
            guard let d = fitted, d != 0 else { return false }
            QuantMath.storeHalf(d, block, 108)
            relevel(x, levels, block: block)
            return true
        }
    }
}
