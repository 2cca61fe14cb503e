import KilnCore
import KilnKernels

/// The row path shared by `q4_0` and `q5_0`: every block's reference start first, then one
/// many-block search over the row (a block per vector lane), then packing. The same bytes as
/// quantising block by block.
enum SymmetricRow {
    /// `start(x, maximum, levels)` writes a block's reference levels and returns its scale;
    /// `store(scale, levels, out)` packs one block.
    static func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, offset: Int,
                         blockBytes: Int, into out: UnsafeMutableRawPointer,
                         start: (UnsafePointer<Float>, Float, UnsafeMutablePointer<UInt8>) -> Float,
                         store: (Float, UnsafePointer<UInt8>, UnsafeMutableRawPointer) -> Void) {
        let blocks = count / 32
        RowScratch.with(count: count, floatsPerBlock: 2) { levels, maxima in
            let scales = maxima + blocks
            for b in 0..<blocks {
                let block = x + 32 * b
                var maximum: Float = 0
                for i in 0..<32 where abs(block[i]) > abs(maximum) { maximum = block[i] }
                maxima[b] = maximum
                scales[b] = start(block, maximum, levels + 32 * b)
            }
            ScaleSearch.symmetricBlocks(x, importance: importance, count: blocks, offset: offset, maxima: maxima,
                                        scales: scales, levels: levels)
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
