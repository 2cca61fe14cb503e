import KilnCore
import KilnKernels

/// `q4_1`: 32 values, f16 scale `d` and minimum `m`, 4-bit `q`, value `d × q + m`.
package struct Q4_1Quantizer: AffineRowQuantizer {
    package init() {}
    package var type: ElementType { .q4_1 }
    package static let maxLevel = 15

    /// Reference (ggml quantize_row_q4_1_ref, gguf-py Q4_1): d = (max − min) / 15,
    /// q = trunc((x − min) / d + 0.5) clipped to 0…15, m = min.
    package static func start(_ x: UnsafePointer<Float>, low lo: Float, high hi: Float, levels: UnsafeMutablePointer<UInt8>) -> Float {
        let d = (hi - lo) / 15
        let id: Float = d == 0 ? 0 : 1 / d
        for i in 0..<32 { levels[i] = UInt8(max(0, min(15, ((x[i] - lo) * id + 0.5).rounded(.towardZero)))) }
        return d
    }

    package static func store(scale: Float, minimum: Float, levels: UnsafePointer<UInt8>, into out: UnsafeMutableRawPointer) {
        QuantMath.storeHalf(scale, out, 0)
        QuantMath.storeHalf(minimum, out, 2)
        for j in 0..<16 { out.storeBytes(of: levels[j] | levels[j + 16] << 4, toByteOffset: 4 + j, as: UInt8.self) }
    }
}
