import KilnCore
import KilnKernels

/// The row path of the affine 32-value quantisers (`q4_1`, `q5_1`: value d·q + m): every block's
/// round-to-nearest start as its block quantiser makes it and one search over the whole row, both
/// in C sixteen blocks per vector (ScaleSearch.affineStart, .affineBlocks), then the blocks' bytes. One block at a
/// time, the search's call per block and the scalar trials made q4_1 the slowest searched scheme
/// (93 MB/s of f16 input); the block quantisers stay the reference the tests hold this to.
package protocol AffineRowQuantizer: BlockQuantizer {
    /// The top level (15 or 31).
    static var maxLevel: Int { get }
    /// The block's round-to-nearest levels for the range [lo, hi]; returns the start scale.
    static func start(_ x: UnsafePointer<Float>, low lo: Float, high hi: Float, levels: UnsafeMutablePointer<UInt8>) -> Float
    /// Writes one block: scale, minimum and levels.
    static func store(scale: Float, minimum: Float, levels: UnsafePointer<UInt8>, into out: UnsafeMutableRawPointer)
}

extension AffineRowQuantizer {
    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        let (lo, hi) = Self.range(x)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let levels = buffer.baseAddress!
            var d = Self.start(x, low: lo, high: hi, levels: levels), m = lo
            if method == .search && hi > lo {
                (d, m) = ScaleSearch.affine(x, importance: importance, maxLevel: Self.maxLevel, low: lo, high: hi,
                                            scale: d, minimum: m, levels: levels)
            }
            Self.store(scale: d, minimum: m, levels: levels, into: out)
        }
    }

    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        quantize(x, count: count, importance: importance, method: method, into: out, tier: Kernels.tier)
    }

    /// The row with the search compiled for `tier` (the tests run every tier).
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer, tier: KernelTier) {
        let blocks = count / 32
        RowScratch.with(count: count, floatsPerBlock: 4) { levels, lows in
            let highs = lows + blocks, scales = highs + blocks, minima = scales + blocks
            ScaleSearch.affineStart(x, count: blocks, maxLevel: Self.maxLevel, lows: lows, highs: highs, scales: scales,
                                    levels: levels, tier: tier)
            minima.update(from: lows, count: blocks)
            if method == .search {
                ScaleSearch.affineBlocks(x, importance: importance, count: blocks, maxLevel: Self.maxLevel, lows: lows,
                                         highs: highs, scales: scales, minima: minima, levels: levels, tier: tier)
            }
            for b in 0..<blocks {
                Self.store(scale: scales[b], minimum: minima[b], levels: levels + 32 * b, into: out + b * type.blockBytes)
            }
        }
    }

    /// The block's smallest and largest value (Swift's min and max from x[0] up).
    static func range(_ x: UnsafePointer<Float>) -> (Float, Float) {
        var lo = x[0], hi = x[0]
        for i in 1..<32 { lo = min(lo, x[i]); hi = max(hi, x[i]) }
        return (lo, hi)
    }
}
