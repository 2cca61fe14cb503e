import KilnCore
import KilnKernels

/// `q5_0`: 32 values, f16 scale `d`, 5-bit `q` (low nibbles in `qs`, fifth bits in the
/// little-endian u32 `qh`, bit j for value j), value `d × (q − 16)`.
package struct Q5_0Quantizer: BlockQuantizer {
    package init() {}
    package var type: ElementType { .q5_0 }

    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                              into out: UnsafeMutableRawPointer) {
        var maximum: Float = 0
        for i in 0..<32 where abs(x[i]) > abs(maximum) { maximum = x[i] }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let levels = buffer.baseAddress!
            var scale = Self.start(x, maximum, levels)
            if method == .search && maximum != 0 {
                scale = ScaleSearch.symmetric(x, importance: importance, offset: 16, maximum: maximum, scale: scale, levels: levels)
            }
            Self.store(scale, levels, out)
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
        SymmetricRow.quantize(x, count: count, importance: importance, method: method, offset: 16, blockBytes: 22, into: out,
                              tier: tier, store: Self.store)
    }

    /// Reference (ggml quantize_row_q5_0_ref): the signed value of largest magnitude maps to
    /// −16, d = max / −16, q = trunc(x / d + 16.5) clipped to 31.
    static func start(_ x: UnsafePointer<Float>, _ maximum: Float, _ levels: UnsafeMutablePointer<UInt8>) -> Float {
        let d = maximum / -16
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(truncatingIfNeeded: min(31, QuantMath.truncatedSmallInt(x[i] * id + 16.5))) }
        return d
    }

    static func store(_ scale: Float, _ levels: UnsafePointer<UInt8>, _ out: UnsafeMutableRawPointer) {
        QuantMath.storeHalf(scale, out, 0)
        Q5Packing.store(levels, into: out + 2)
    }
}

/// `q5_1`: 32 values, f16 scale `d` and minimum `m`, 5-bit `q` packed as in `q5_0`, value `d × q + m`.
package struct Q5_1Quantizer: AffineRowQuantizer {
    package init() {}
    package var type: ElementType { .q5_1 }
    package static let maxLevel = 31

    /// Reference (ggml quantize_row_q5_1_ref): d = (max − min) / 31, q = trunc((x − min) / d + 0.5), m = min.
    package static func start(_ x: UnsafePointer<Float>, low lo: Float, high hi: Float, levels: UnsafeMutablePointer<UInt8>) -> Float {
        let d = (hi - lo) / 31
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(truncatingIfNeeded: QuantMath.truncatedSmallInt((x[i] - lo) * id + 0.5)) }
        return d
    }

    package static func store(scale: Float, minimum: Float, levels: UnsafePointer<UInt8>, into out: UnsafeMutableRawPointer) {
        QuantMath.storeHalf(scale, out, 0)
        QuantMath.storeHalf(minimum, out, 2)
        Q5Packing.store(levels, into: out + 4)
    }
}

enum Q5Packing {
    /// Writes `qh` (bit j = fifth bit of value j, little-endian u32) then the 16 nibble bytes
    /// (value j low, value j + 16 high).
    static func store(_ levels: UnsafePointer<UInt8>, into out: UnsafeMutableRawPointer) {
        var qh: UInt32 = 0
        for j in 0..<32 { qh |= UInt32(levels[j] >> 4 & 1) << j }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 0, as: UInt32.self)
        for j in 0..<16 { out.storeBytes(of: (levels[j] & 0xF) | (levels[j + 16] & 0xF) << 4, toByteOffset: 4 + j, as: UInt8.self) }
    }
}
