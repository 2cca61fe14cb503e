import CKilnKernels

/// The scale searches of the 32-value quantisers (`q4_0`, `q5_0`, `q4_1`, `q5_1`, `q8_0`) and
/// kq4's exponent trials, in C: they are most of the time a searched quantisation takes (Swift without
/// ISA flags ran them at 8–15 MB/s on the development machine, kq4's at 19). One C body compiled per tier gives the same bits on
/// every tier, so a file does not depend on the machine that quantised it; the `reference` tier
/// runs the portable compilation. The tests hold every tier to a Swift twin.
package enum ScaleSearch {
    /// The best scale for `x` as `d × (q − offset)`, q in 0…2·offset−1, starting from `scale` with
    /// `levels` (the round-to-nearest ones); `levels` receives the best scale's levels.
    package static func symmetric(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, offset: Int,
                                  maximum: Float, scale: Float, levels: UnsafeMutablePointer<UInt8>,
                                  tier: KernelTier = Kernels.tier) -> Float {
        kiln_quant_search_symmetric32(cTier(tier), x, importance, Int32(offset), maximum, scale, levels)
    }

    /// `symmetric` for `count` consecutive blocks of 32 at once (`x` and `importance` 32 values
    /// per block), one block per vector lane: the same bits as `count` calls of `symmetric`.
    /// `scales` and `levels` (32 per block) hold the starts and receive the best; a block whose
    /// `maxima` entry is 0 keeps its start.
    package static func symmetricBlocks(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, count: Int,
                                        offset: Int, maxima: UnsafePointer<Float>, scales: UnsafeMutablePointer<Float>,
                                        levels: UnsafeMutablePointer<UInt8>, tier: KernelTier = Kernels.tier) {
        kiln_quant_search_symmetric32_blocks(cTier(tier), x, importance, Int64(count), Int32(offset), maxima, scales, levels)
    }

    /// q4_0's (`offset` 8) or q5_0's (16) round-to-nearest start for `count` blocks of 32, one
    /// block per vector lane: each block's signed extreme into `maxima`, its scale (extreme /
    /// −offset) into `scales` and its levels (32 per block) into `levels` — the bits of the Swift
    /// `Q4_0Quantizer.start` and `Q5_0Quantizer.start`.
    package static func symmetricStart(_ x: UnsafePointer<Float>, count: Int, offset: Int, maxima: UnsafeMutablePointer<Float>,
                                       scales: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                                       tier: KernelTier = Kernels.tier) {
        let status = kiln_quant_symmetric_start_blocks(cTier(tier), x, Int64(count), Int32(offset), maxima, scales, levels)
        precondition(status == 0, "symmetric start for offset \(offset): only 8 and 16 are known")
    }

    /// The best (d, m) for `x` as `d × q + m`, q in 0…maxLevel, from the range [low, high] and the
    /// starting `scale`, `minimum` and `levels`; `levels` receives the best pair's levels.
    package static func affine(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, maxLevel: Int,
                               low: Float, high: Float, scale: Float, minimum: Float, levels: UnsafeMutablePointer<UInt8>,
                               tier: KernelTier = Kernels.tier) -> (scale: Float, minimum: Float) {
        var d = scale, m = minimum
        kiln_quant_search_affine32(cTier(tier), x, importance, Int32(maxLevel), low, high, &d, &m, levels)
        return (d, m)
    }

    /// The round-to-nearest starts of q4_1 (`maxLevel` 15) or q5_1 (31) for `count` blocks of 32,
    /// sixteen per vector: each block's lo, hi, scale and levels as the block quantisers make them.
    package static func affineStart(_ x: UnsafePointer<Float>, count: Int, maxLevel: Int, lows: UnsafeMutablePointer<Float>,
                                    highs: UnsafeMutablePointer<Float>, scales: UnsafeMutablePointer<Float>,
                                    levels: UnsafeMutablePointer<UInt8>, tier: KernelTier = Kernels.tier) {
        let status = kiln_quant_affine_start_blocks(cTier(tier), x, Int64(count), Int32(maxLevel), lows, highs, scales, levels)
        precondition(status == 0, "affine start for max level \(maxLevel): only 15 and 31 are known")
    }

    /// `affine` for `count` blocks of 32 at once, one block per vector lane (lows, highs, scales,
    /// minima one per block, levels 32 per block): the bits of `count` calls of `affine`; blocks
    /// whose range is empty keep their start.
    package static func affineBlocks(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, count: Int, maxLevel: Int,
                                     lows: UnsafePointer<Float>, highs: UnsafePointer<Float>, scales: UnsafeMutablePointer<Float>,
                                     minima: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                                     tier: KernelTier = Kernels.tier) {
        kiln_quant_search_affine32_blocks(cTier(tier), x, importance, Int64(count), Int32(maxLevel), lows, highs, scales, minima,
                                          levels)
    }

    /// A kq4 row of `count` values (a multiple of 32) into `out` (18 bytes per block): each
    /// 16-value group's nearest exponent and `width` either side (0: round-to-nearest), then the
    /// least-squares refit's where it lies outside — the bytes of `KQ4Quantizer.quantizeBlock`.
    /// False, with nothing written, when the search's scratch (a few bytes per group) could not
    /// be allocated: the caller then has the Swift quantiser write the same bytes.
    package static func kq4Row(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, count: Int, width: Int,
                               into out: UnsafeMutableRawPointer, tier: KernelTier = Kernels.tier) -> Bool {
        let status = kiln_quant_kq4_row(cTier(tier), x, importance, Int64(count / 16), Int32(width),
                                        out.assumingMemoryBound(to: UInt8.self))
        // −1 is a call outside the contract (a width past 7, an odd group count): a bug here.
        precondition(status != -1, "kq4 row of \(count) values, search width \(width): status \(status)")
        return status == 0
    }

    /// `count` q8_0 blocks of 32 values into `out` (34 bytes each), searched or round-to-nearest,
    /// one block per vector lane: the bytes of the Swift block quantiser.
    package static func q8_0Blocks(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, count: Int, search: Bool,
                                   into out: UnsafeMutableRawPointer, tier: KernelTier = Kernels.tier) {
        kiln_quant_q8_0_blocks(cTier(tier), x, importance, Int64(count), search ? 1 : 0, out.assumingMemoryBound(to: UInt8.self))
    }

    /// q4_K/q5_K's group fits for `groups` groups of 32 (`x` and `importance` 32 per group), one
    /// group per vector lane: each group's scale, minimum and 32 levels 0…`maxLevel`, the bits of
    /// `Q4_KQuantizer`'s Swift twin (ggml's make_qkx2_quants) on every tier.
    package static func kquantFit32(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, groups: Int, maxLevel: Int,
                                    rmin: Float, rdelta: Float, steps: Int, scales: UnsafeMutablePointer<Float>,
                                    minima: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                                    tier: KernelTier = Kernels.tier) {
        kiln_quant_kquant_fit32(cTier(tier), x, importance, Int64(groups), Int32(maxLevel), rmin, rdelta, Int32(steps), scales,
                                minima, levels)
    }

    /// q2_K's group fits for `groups` groups of 16 (`x` and `importance` 16 per group), one group
    /// per vector lane, as `kquantFit32` lays them out: the bits of `Q2_KQuantizer`'s Swift twin
    /// (ggml's make_qkx2_quants by weighted absolute error) on every tier.
    package static func kquantFit16Absolute(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, groups: Int, maxLevel: Int,
                                            rmin: Float, rdelta: Float, steps: Int, scales: UnsafeMutablePointer<Float>,
                                            minima: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                                            tier: KernelTier = Kernels.tier) {
        kiln_quant_kquant_fit16_absolute(cTier(tier), x, importance, Int64(groups), Int32(maxLevel), rmin, rdelta, Int32(steps), scales,
                                         minima, levels)
    }

    /// q6_K's group fits for `groups` groups of 16 (`x` and `importance` 16 per group), one group
    /// per vector lane: each group's scale and 16 levels (−`maxLevel`…`maxLevel` − 1, stored +
    /// `maxLevel`), the bits of `Q6_KQuantizer`'s Swift twin (ggml's make_qx_quants) on every tier.
    package static func kquantSymmetric16(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, groups: Int, maxLevel: Int,
                                          scales: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                                          tier: KernelTier = Kernels.tier) {
        kiln_quant_kquant_symmetric16(cTier(tier), x, importance, Int64(groups), Int32(maxLevel), scales, levels)
    }

    /// `levels[i] = clamp(nearestInt((x[i] + offset) / scale), lowest…highest) + bias` for
    /// `i < count`: a K-quant group's levels re-rounded to the scale it stores, element by
    /// element in C (the Swift loop was a seventh of a q4_k_m quantisation).
    package static func roundLevels(_ x: UnsafePointer<Float>, count: Int, offset: Float, scale: Float, lowest: Int, highest: Int,
                                    bias: Int, into levels: UnsafeMutablePointer<UInt8>, tier: KernelTier = Kernels.tier) {
        kiln_quant_round_levels(cTier(tier), x, Int64(count), offset, scale, Int32(lowest), Int32(highest), Int32(bias), levels)
    }

    private static func cTier(_ tier: KernelTier) -> Int32 { tier.cTier ?? Int32(KILN_TIER_PORTABLE) }
}
