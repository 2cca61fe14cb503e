import KilnCore
import KilnKernels

/// `q4_k` and `q5_k` (docs/FORMAT.md §7.2): 256 values in 8 groups of 32, each group with a
/// 6-bit scale and 6-bit minimum against the block's f16 `d` and `dmin`; value
/// `d·sc·q − dmin·m` with 4-bit (5-bit) `q`. The two differ only in the level count and in
/// where the fifth bit goes, so one writer serves both.
package struct Q4_KQuantizer: KQuantizer {
    /// 4 for q4_k, 5 for q5_k.
    let bits: Int
    package init(bits: Int) {
        precondition(bits == 4 || bits == 5)
        self.bits = bits
    }

    package var type: ElementType { bits == 4 ? .q4_k : .q5_k }
    private var nmax: Int { (1 << bits) - 1 }
    /// Where the 128 nibble bytes start: after d, dmin, 12 scale bytes (and q5_k's 32 `qh`).
    private var qsOffset: Int { bits == 4 ? 16 : 48 }

    private var rmin: Float { bits == 4 ? -1 : -0.5 }
    private var steps: Int { bits == 4 ? 20 : 15 }

    /// The eight groups' fits in C, one group per vector lane (`ScaleSearch.kquantFit32`): the
    /// bits of `swiftFitGroups`, its twin. q4_k_m's quantisation spent a fifth of its time here
    /// in Swift, one group at a time.
    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        fitGroups(x, importance: importance, into: fit, tier: Kernels.tier)
    }

    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit, tier: KernelTier) {
        ScaleSearch.kquantFit32(x, importance: importance, groups: 8, maxLevel: nmax, rmin: rmin, rdelta: 0.1, steps: steps,
                                scales: fit.scales, minima: fit.mins, levels: fit.levels, tier: tier)
    }

    /// Two blocks' sixteen groups in one call (the lanes' width), then block 1's scales and
    /// minimums moved to their place (levels are already: eight groups of 32 fill a block's 256).
    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: Int, into fit: GroupFit) {
        var k = 0
        while k < blocks {
            let pair = min(2, blocks - k), part = fit.block(k)
            ScaleSearch.kquantFit32(x + 256 * k, importance: importance.map { $0 + 256 * k }, groups: 8 * pair, maxLevel: nmax,
                                    rmin: rmin, rdelta: 0.1, steps: steps, scales: part.scales, minima: part.mins, levels: part.levels)
            if pair == 2 {
                // Block k + 1's eight scales and minimums, from 8…15 to 16…23.
                (part.mins + 16).update(from: part.mins + 8, count: 8)
                (part.scales + 16).update(from: part.scales + 8, count: 8)
            }
            k += pair
        }
    }

    /// `fitGroups` in Swift: the twin the C lanes are held to (ScaleSearchTests).
    package func swiftFitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weights in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { scratch in
                for j in 0..<8 {
                    let g = x + 32 * j
                    // ggml's weights: the group's RMS plus each value's magnitude.
                    var sumX2: Float = 0
                    for l in 0..<32 { sumX2 += g[l] * g[l] }
                    let rms = (sumX2 / 32).squareRoot()
                    for l in 0..<32 { weights[l] = (rms + abs(g[l])) * (importance?[32 * j + l] ?? 1) }
                    let (scale, minimum) = KQuantMath.affine(
                        32, nmax, g, weights.baseAddress!, fit.levels + 32 * j, scratch: scratch.baseAddress!,
                        rmin: rmin, rdelta: 0.1, steps: steps, absolute: false)
                    fit.scales[j] = scale
                    fit.mins[j] = minimum
                }
            }
        }
    }

    package func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if fit.scales[j] > maxScale { maxScale = fit.scales[j] }
            if fit.mins[j] > maxMin { maxMin = fit.mins[j] }
        }
        if scaleFactor != 1 { maxScale *= scaleFactor }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let scales = out + 4
        for j in 0..<8 {
            // ggml narrows to a byte before clipping at 63.
            let ls = min(63, UInt8(truncatingIfNeeded: KQuantMath.nearestInt(inverseScale * fit.scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: KQuantMath.nearestInt(inverseMin * fit.mins[j])))
            if j < 4 {
                scales.storeBytes(of: ls, toByteOffset: j, as: UInt8.self)
                scales.storeBytes(of: lm, toByteOffset: j + 4, as: UInt8.self)
            } else {
                scales.storeBytes(of: (ls & 0xF) | (lm & 0xF) << 4, toByteOffset: j + 4, as: UInt8.self)
                scales.storeBytes(of: scales.load(fromByteOffset: j - 4, as: UInt8.self) | (ls >> 4) << 6, toByteOffset: j - 4, as: UInt8.self)
                scales.storeBytes(of: scales.load(fromByteOffset: j, as: UInt8.self) | (lm >> 4) << 6, toByteOffset: j, as: UInt8.self)
            }
        }
        QuantMath.storeHalf(maxScale / 63, out, 0)
        QuantMath.storeHalf(maxMin / 63, out, 2)
        relevel(x, fit.levels, block: out)
    }

    /// Re-rounds every value to the block's stored scales (groups whose scale is 0 keep their
    /// levels, as ggml does) and packs the levels.
    private func relevel(_ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>, block out: UnsafeMutableRawPointer) {
        let d = Self.half(out, 0), dmin = Self.half(out, 2)
        for j in 0..<8 {
            let (sc, m) = Self.scaleMin(j, out + 4)
            let dj = d * Float(sc)
            guard dj != 0 else { continue }
            let dm = dmin * Float(m)
            // UInt8(max(0, min(nmax, nearestInt((x + dm) / dj)))) for each value, in C.
            ScaleSearch.roundLevels(x + 32 * j, count: 32, offset: dm, scale: dj, lowest: 0, highest: nmax, bias: 0, into: levels + 32 * j)
        }
        if bits == 5 { for l in 0..<32 { out.storeBytes(of: UInt8(0), toByteOffset: 16 + l, as: UInt8.self) } }
        for c in 0..<4 {
            for l in 0..<32 {
                var low = levels[64 * c + l], high = levels[64 * c + 32 + l]
                if bits == 5 {
                    var h = out.load(fromByteOffset: 16 + l, as: UInt8.self)
                    if low > 15 { low -= 16; h |= 1 << (2 * c) }
                    if high > 15 { high -= 16; h |= 2 << (2 * c) }
                    out.storeBytes(of: h, toByteOffset: 16 + l, as: UInt8.self)
                }
                out.storeBytes(of: low | high << 4, toByteOffset: qsOffset + 32 * c + l, as: UInt8.self)
            }
        }
    }

    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let levels = buffer.baseAddress!
            unpackLevels(block, into: levels)
            let groups = (0..<8).map { Self.scaleMin($0, block + 4) }
            let fitted = importance == nil
                ? KQuantMath.fitScaleAndMinUniform(x, 256, a: { Int(groups[$0 / 32].scale) * Int(levels[$0]) }, b: { Int(groups[$0 / 32].min) })
                : KQuantMath.fitScaleAndMin(x, importance, 256, a: { Float(groups[$0 / 32].scale) * Float(levels[$0]) },
                                            b: { Float(groups[$0 / 32].min) })
            guard let (d, m) = fitted else { return false }
            QuantMath.storeHalf(d, block, 0)
            QuantMath.storeHalf(m, block, 2)
            relevel(x, levels, block: block)
            return true
        }
    }

    /// With uniform weights, up to eight blocks' refits side by side: each block's Σx·a and
    /// Σx·b (the chains of dependent adds that bounded the one-block refit) in its own SIMD lane,
    /// element 0 first, and its integer sums exact, so every block gets `refit`'s bits.
    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: UnsafeBufferPointer<UnsafeMutableRawPointer>,
                       refitted: UnsafeMutablePointer<Bool>) {
        guard importance == nil, blocks.count <= 8 else {
            for (k, block) in blocks.enumerated() { refitted[k] = refit(x, importance: importance, block: block) }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8 * 256) { levelBuffer in
            withUnsafeTemporaryAllocation(of: SIMD8<Double>.self, capacity: 2 * 256) { columns in
                let levels = levelBuffer.baseAddress!, a = columns.baseAddress!, b = a + 256
                a.initialize(repeating: SIMD8(), count: 512)
                var saa = SIMD8<Int>(), sab = SIMD8<Int>(), sbb = SIMD8<Int>()
                for (k, block) in blocks.enumerated() {
                    unpackLevels(block, into: levels + 256 * k)
                    var sa = 0, sb = 0, ab = 0
                    for j in 0..<8 {
                        let (sc, m) = Self.scaleMin(j, block + 4)
                        for i in (32 * j)..<(32 * j + 32) {
                            let ai = Int(sc) * Int(levels[256 * k + i]), bi = Int(m)
                            sa += ai * ai; ab += ai * bi; sb += bi * bi
                            a[i][k] = Double(ai)
                            b[i][k] = Double(bi)
                        }
                    }
                    saa[k] = sa; sab[k] = ab; sbb[k] = sb
                }
                var sxa = SIMD8<Double>(), sxb = SIMD8<Double>()
                for i in 0..<256 {
                    let xi = SIMD8(repeating: Double(x[i]))
                    sxa += xi * a[i]
                    sxb += xi * b[i]
                }
                for (k, block) in blocks.enumerated() {
                    refitted[k] = false
                    guard let (d, m) = KQuantMath.solveScaleAndMin(saa: Double(saa[k]), sab: Double(sab[k]), sbb: Double(sbb[k]),
                                                                   sxa: sxa[k], sxb: sxb[k]) else { continue }
                    QuantMath.storeHalf(d, block, 0)
                    QuantMath.storeHalf(m, block, 2)
                    relevel(x, levels + 256 * k, block: block)
                    refitted[k] = true
                }
            }
        }
    }

    /// The block's 256 levels (q5_k's fifth bit merged in).
    private func unpackLevels(_ block: UnsafeRawPointer, into levels: UnsafeMutablePointer<UInt8>) {
        for c in 0..<4 {
            for l in 0..<32 {
                let q = block.load(fromByteOffset: qsOffset + 32 * c + l, as: UInt8.self)
                let h = bits == 5 ? block.load(fromByteOffset: 16 + l, as: UInt8.self) : 0
                levels[64 * c + l] = (q & 0xF) | (h >> (2 * c) & 1) << 4
                levels[64 * c + 32 + l] = (q >> 4) | (h >> (2 * c + 1) & 1) << 4
            }
        }
    }

    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// The 6-bit scale and minimum of group `j` from the 12 packed bytes (the layout's rule:
    /// groups 0–3 in the low 6 bits of bytes j and j+4, groups 4–7 split over nibbles of byte
    /// j+4 and the top 2 bits of bytes j−4 and j).
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        let b = { (i: Int) in q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0xF) | (b(j - 4) >> 6) << 4, (b(j + 4) >> 4) | (b(j) >> 6) << 4)
    }
}
