import Foundation

/// Kiln's 4-bit block type `kq4` (docs/FORMAT.md §7.3). A block holds 32 values in 18 bytes:
///
///     byte 0      e0: scale exponent of values 0–15
///     byte 1      e1: scale exponent of values 16–31
///     bytes 2–17  qs[16]: value j < 16 uses level qs[j] & 15, value j ≥ 16 uses qs[j−16] >> 4
///
/// and value = grid[level] × scale(e), scale(e) = M[e mod 8] × 2^(⌊e/8⌋ − 28), with M[k] the
/// binary32 nearest 2^(k/8). Scales step by 2^(1/8) (9%) from 3.7e-9 to 14.7, so one byte
/// covers every weight magnitude; every product is one exactly-rounded f32 multiply, so all
/// platforms decode identically.
///
/// The grid is a 16-level Lloyd–Max quantiser fitted to trained transformer weights
/// normalised per 16-value group, made symmetric. Against `q4_0` at the same 4.5 bits per
/// weight, kq4 has half-size scale groups and a grid that follows the weights: measured on
/// all-MiniLM-L6-v2's matrices with searched scales, relative RMSE 0.0715 against 0.0880 for
/// `q4_0` (and 0.0794 for `q4_1` at 5 bits per weight).
package enum KQ4 {
    package static let grid: [Int8] = [-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127]
    package static let blockBytes = 18
    package static let mantissas: [Float] = [
        0x1.000000p+0, 0x1.172b84p+0, 0x1.306fe0p+0, 0x1.4bfdaep+0, 0x1.6a09e6p+0, 0x1.8ace54p+0, 0x1.ae89fap+0, 0x1.d5818ep+0,
    ]

    /// scale(e) for every exponent byte.
    package static let scales: [Float] = (0..<256).map { e in
        mantissas[e & 7] * Float(sign: .plus, exponent: (e >> 3) - 28, significand: 1)
    }

    /// The exponent byte whose scale is nearest to `scale` in log terms, clamped to 0–255:
    /// round((log2(scale) + 28) · 8).
    ///
    /// Without the logarithm: scale = m · 2^E with m in [1, 2), so the byte is 8·(E + 28) plus
    /// round(8·log2 m), which is how many of 2^((k + ½)/8), k = 0…7, lie at or below m. The
    /// quantiser asks this twice per 16 weights; `log2` and `rounded` were a tenth of a `kq4`
    /// quantisation. (The two agree for every f32 significand; KQ4Tests holds it to the formula.)
    package static func exponent(nearest scale: Float) -> Int {
        guard scale > 0, scale.isFinite else { return 0 }
        let m = scale.significand
        var e = 8 * (Int(scale.exponent) + 28)
        // The least f32 at or above 2^((k + ½)/8) (m is an f32: m ≥ it exactly when m ≥ the real value).
        if m >= 0x1.0b5588p+0 { e += 1 }
        if m >= 0x1.2387a8p+0 { e += 1 }
        if m >= 0x1.3dea66p+0 { e += 1 }
        if m >= 0x1.5ab07ep+0 { e += 1 }
        if m >= 0x1.7a1148p+0 { e += 1 }
        if m >= 0x1.9c491ap+0 { e += 1 }
        if m >= 0x1.c199bep+0 { e += 1 }
        if m >= 0x1.ea4afcp+0 { e += 1 }
        return max(0, min(255, e))
    }

    static let decode: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        grid.withUnsafeBufferPointer { grid in
            scales.withUnsafeBufferPointer { scales in
                for b in 0..<blocks {
                    let block = source + b * blockBytes
                    let d0 = scales[Int(block.load(fromByteOffset: 0, as: UInt8.self))]
                    let d1 = scales[Int(block.load(fromByteOffset: 1, as: UInt8.self))]
                    for j in 0..<16 {
                        let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                        out[b * 32 + j] = Float(grid[Int(q & 0x0F)]) * d0
                        out[b * 32 + j + 16] = Float(grid[Int(q >> 4)]) * d1
                    }
                }
            }
        }
    }
}
