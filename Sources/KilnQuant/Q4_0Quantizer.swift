import KilnCore
import KilnKernels

/// `q4_0`: 32 values, f16 scale `d`, 4-bit `q`, value `d × (q − 8)`.
package struct Q4_0Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .q4_0 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        var maximum: Float = 0
        for i in 0..<32 where abs(x[i]) > abs(maximum) { maximum = x[i] }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let levels = buffer.baseAddress!
            var bestScale = Self.start(x, maximum, levels)
            if method == .search && maximum != 0 {
                bestScale = ScaleSearch.symmetric(x, importance: importance, offset: 8, maximum: maximum, scale: bestScale, levels: levels)
            }
            Self.store(bestScale, levels, out)
        }
    }

    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        quantize(x, count: count, importance: importance, method: method, into: out, tier: Kernels.tier)
    }

    /// A whole row with the starts and the search in C, sixteen blocks per vector (the bytes of
    /// `quantizeBlock` block by block, which the tests hold it to); `tier` picks the compilation.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer, tier: KernelTier) {
        SymmetricRow.quantize(x, count: count, importance: importance, method: method, offset: 8, blockBytes: 18, into: out,
                              tier: tier, store: Self.store)
    }

    static func start(_ x: UnsafePointer<Float>, _ maximum: Float, _ levels: UnsafeMutablePointer<UInt8>) -> Float {
        reference(scale: maximum / -8, x, into: levels)
        return maximum / -8
    }

    static func store(_ scale: Float, _ levels: UnsafePointer<UInt8>, _ out: UnsafeMutableRawPointer) {
        QuantMath.storeHalf(scale, out, 0)
        for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 2 + j, as: UInt8.self) }
    }

    /// gguf-py's arithmetic exactly: f32 reciprocal and multiply, then + 8.5 and truncate.
    static func reference(scale d: Float, _ x: UnsafePointer<Float>, into levels: UnsafeMutablePointer<UInt8>) {
        let id: Float = d == 0 ? 0 : 1 / d
        // max(0, min(15, trunc(v))) without a truncf call per value (a profile's 7% of a searched
        // q4): UInt8(v) truncates, and the comparisons give NaN 15 as min(15, NaN) does.
        for i in 0..<32 {
            let v = x[i] * id + 8.5
            levels[i] = v < 16 ? (v > 0 ? UInt8(v) : 0) : 15
        }
    }
}
