import KilnCore
import KilnKernels

/// `q6_k` (docs/FORMAT.md §7.2): 256 values in 16 groups of 16, each group with a signed 8-bit
/// scale against the block's f16 `d` (stored last); value `d·sc·(q − 32)` with 6-bit `q`.
package struct Q6_KQuantizer: KQuantizer {
    package init() {}
    package var type: ElementType { .q6_k }

    /// The sixteen groups' fits in C, one group per vector lane (`ScaleSearch.kquantSymmetric16`):
    /// the bits of `swiftFitGroups`, its twin.
    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        fitGroups(x, importance: importance, into: fit, tier: Kernels.tier)
    }

    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit, tier: KernelTier) {
        ScaleSearch.kquantSymmetric16(x, importance: importance, groups: 16, maxLevel: 32, scales: fit.scales, levels: fit.levels,
                                      tier: tier)
    }

    /// `fitGroups` in Swift: the twin the C lanes are held to (ScaleSearchTests).
    package func swiftFitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { weights in
            for j in 0..<16 {
                let g = x + 16 * j
                if let importance {
                    for l in 0..<16 { weights[l] = importance[16 * j + l] * g[l] * g[l] }
                }
                fit.scales[j] = KQuantMath.symmetric(16, 32, g, fit.levels + 16 * j,
                                                     weights: importance == nil ? nil : UnsafePointer(weights.baseAddress!))
            }
        }
    }

    package func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer) {
        var maxScale: Float = 0, maxAbs: Float = 0
        for j in 0..<16 where abs(fit.scales[j]) > maxAbs {
            maxAbs = abs(fit.scales[j]); maxScale = fit.scales[j]
        }
        guard maxAbs >= KQuantMath.groupEpsilon else {
            out.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale = -128 / (scaleFactor == 1 ? maxScale : maxScale * scaleFactor)
        QuantMath.storeHalf(1 / iscale, out, 208)
        for j in 0..<16 {
            let s = max(-128, min(127, KQuantMath.nearestInt(iscale * fit.scales[j])))
            out.storeBytes(of: Int8(s), toByteOffset: 192 + j, as: Int8.self)
        }
        relevel(x, fit.levels, block: out)
    }

    private func relevel(_ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>, block out: UnsafeMutableRawPointer) {
        let d = Q4_KQuantizer.half(out, 208)
        for j in 0..<16 {
            let dj = d * Float(out.load(fromByteOffset: 192 + j, as: Int8.self))
            guard dj != 0 else { continue }  // the group keeps its searched levels, as in ggml
            // UInt8(max(−32, min(31, nearestInt(x / dj))) + 32) for each value, in C (x + 0 is x,
            // bit for bit once divided and rounded: −0 and +0 round alike).
            ScaleSearch.roundLevels(x + 16 * j, count: 16, offset: 0, scale: dj, lowest: -32, highest: 31, bias: 32, into: levels + 16 * j)
        }
        // Half n: ql holds the low nibbles of values 128n + l (+ 64 in the high nibble) and of
        // 128n + 32 + l (+ 96); qh holds the top 2 bits of the four.
        for n in 0..<2 {
            let L = levels + 128 * n
            for l in 0..<32 {
                out.storeBytes(of: (L[l] & 0xF) | (L[l + 64] & 0xF) << 4, toByteOffset: 64 * n + l, as: UInt8.self)
                out.storeBytes(of: (L[l + 32] & 0xF) | (L[l + 96] & 0xF) << 4, toByteOffset: 64 * n + 32 + l, as: UInt8.self)
                let high = L[l] >> 4 | (L[l + 32] >> 4) << 2 | (L[l + 64] >> 4) << 4 | (L[l + 96] >> 4) << 6
                out.storeBytes(of: high, toByteOffset: 128 + 32 * n + l, as: UInt8.self)
            }
        }
    }

    /// With uniform weights, up to eight blocks' refits side by side: each block's Σx·a (the
    /// chain of dependent adds that bounded the one-block refit) in its own SIMD lane, element 0
    /// first, and its Σa² exact as an integer, so every block gets `refit`'s bits. (Q4_K has the
    /// same loop with minimums; one helper taking the columns' values per element as closures
    /// measured 7% slower on `--scheme q4_k`, so each type fills its own columns.)
    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: UnsafeBufferPointer<UnsafeMutableRawPointer>,
                       refitted: UnsafeMutablePointer<Bool>) {
        guard importance == nil, blocks.count <= 8 else {
            for (k, block) in blocks.enumerated() { refitted[k] = refit(x, importance: importance, block: block) }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8 * 256) { levelBuffer in
            withUnsafeTemporaryAllocation(of: SIMD8<Double>.self, capacity: 256) { column in
                let levels = levelBuffer.baseAddress!, a = column.baseAddress!
                a.initialize(repeating: SIMD8(), count: 256)
                var saa = SIMD8<Int>()
                for (k, block) in blocks.enumerated() {
                    unpackLevels(block, into: levels + 256 * k)
                    var sum = 0
                    for i in 0..<256 {
                        let ai = Int(block.load(fromByteOffset: 192 + i / 16, as: Int8.self)) * (Int(levels[256 * k + i]) - 32)
                        sum += ai * ai
                        a[i][k] = Double(ai)
                    }
                    saa[k] = sum
                }
                var sxa = SIMD8<Double>()
                for i in 0..<256 { sxa += SIMD8(repeating: Double(x[i])) * a[i] }
                for (k, block) in blocks.enumerated() {
                    refitted[k] = false
                    guard saa[k] > 0 else { continue }
                    let d = Float(sxa[k] / Double(saa[k]))
                    guard d != 0 else { continue }
                    QuantMath.storeHalf(d, block, 208)
                    relevel(x, levels + 256 * k, block: block)
                    refitted[k] = true
                }
            }
        }
    }

    /// The block's 256 levels (0…63, stored + 32).
    private func unpackLevels(_ block: UnsafeRawPointer, into levels: UnsafeMutablePointer<UInt8>) {
        for n in 0..<2 {
            for l in 0..<32 {
                let a = block.load(fromByteOffset: 64 * n + l, as: UInt8.self)
                let b = block.load(fromByteOffset: 64 * n + 32 + l, as: UInt8.self)
                let h = block.load(fromByteOffset: 128 + 32 * n + l, as: UInt8.self)
                levels[128 * n + l] = (a & 0xF) | (h & 3) << 4
                levels[128 * n + 32 + l] = (b & 0xF) | (h >> 2 & 3) << 4
                levels[128 * n + 64 + l] = (a >> 4) | (h >> 4 & 3) << 4
                levels[128 * n + 96 + l] = (b >> 4) | (h >> 6 & 3) << 4
            }
        }
    }

    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let levels = buffer.baseAddress!
            unpackLevels(block, into: levels)
            let scales = (0..<16).map { Float(block.load(fromByteOffset: 192 + $0, as: Int8.self)) }
            let fitted = importance == nil
                ? KQuantMath.fitScaleUniform(x, 256, a: { Int(scales[$0 / 16]) * (Int(levels[$0]) - 32) })
                : KQuantMath.fitScale(x, importance, 256, a: { scales[$0 / 16] * Float(Int(levels[$0]) - 32) })
            guard let d = fitted, d != 0 else { return false }
            QuantMath.storeHalf(d, block, 208)
            relevel(x, levels, block: block)
            return true
        }
    }
}
