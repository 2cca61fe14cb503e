import KilnCore
import KilnKernels

/// The row path shared by `q4_0` and `q5_0`: every block's reference start in C, then one
/// many-block search over the row (both sixteen blocks per vector lane), then packing. The same
/// bytes as quantising block by block (RowQuantizerTests).
enum SymmetricRow {
    /// `offset` 8 (q4_0) or 16 (q5_0); `store(scale, levels, out)` packs one block of
    /// `blockBytes`; `tier` picks the compilation of the C parts.
    static func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod, offset: Int,
                         blockBytes: Int, into out: UnsafeMutableRawPointer, tier: KernelTier,
                         store: (Float, UnsafePointer<UInt8>, UnsafeMutableRawPointer) -> Void) {
        let blocks = count / 32
        RowScratch.with(count: count, floatsPerBlock: 2) { levels, maxima in
            let scales = maxima + blocks
            ScaleSearch.symmetricStart(x, count: blocks, offset: offset, maxima: maxima, scales: scales, levels: levels, tier: tier)
            if method == .search {
                ScaleSearch.symmetricBlocks(x, importance: importance, count: blocks, offset: offset, maxima: maxima,
                                            scales: scales, levels: levels, tier: tier)
            }
            for b in 0..<blocks { store(scales[b], levels + 32 * b, out + blockBytes * b) }
        }
    }
}

/// The working memory of a row quantiser: `count` level bytes and `floatsPerBlock` floats for
/// each of the row's 32-value blocks, on the stack where they fit.
enum RowScratch {
    static func with<R>(count: Int, floatsPerBlock: Int,
                        _ body: (_ levels: UnsafeMutablePointer<UInt8>, _ floats: UnsafeMutablePointer<Float>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { levels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(floatsPerBlock * (count / 32), 1)) { floats in
                body(levels.baseAddress!, floats.baseAddress!)
            }
        }
    }
}
