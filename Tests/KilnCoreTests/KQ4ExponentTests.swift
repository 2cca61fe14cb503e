import Foundation
import Testing
import KilnCore

/// `KQ4.exponent(nearest:)` counts thresholds instead of taking a logarithm; it must give the
/// byte of its definition, round((log2(scale) + 28) · 8) clamped to 0–255, computed here the
/// plain way.
@Suite struct KQ4ExponentTests {
    static func byFormula(_ scale: Float) -> Int {
        guard scale > 0, scale.isFinite else { return 0 }
        return Int(max(0, min(255, ((log2(Double(scale)) + 28) * 8).rounded())))
    }

    /// Every f32 significand within 4096 ulps of each rounding threshold, and every 5th one
    /// elsewhere, at exponents where the byte is in range and where it clamps.
    @Test func agreesWithTheFormula() {
        var significands: [UInt32] = Array(stride(from: 0, to: 1 << 23, by: 5))
        for k in 0..<8 {
            let threshold = Float(pow(2.0, (Double(k) + 0.5) / 8)).bitPattern & 0x7F_FFFF
            let low = max(0, Int(threshold) - 4096), high = min((1 << 23) - 1, Int(threshold) + 4096)
            significands += (low...high).map(UInt32.init)
        }
        var mismatches = 0
        for exponent in [-40, -29, -28, -12, 0, 3, 4] {
            for significand in significands {
                let scale = Float(sign: .plus, exponent: exponent, significand: Float(bitPattern: 0x3F80_0000 | significand))
                if KQ4.exponent(nearest: scale) != Self.byFormula(scale) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: [Float.zero, -1, -.infinity, .infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                      0x1p-28, 0x1p4, 0x1.ea4afcp+3, 3.7e-9, 14.7])
    func edges(_ scale: Float) {
        #expect(KQ4.exponent(nearest: scale) == Self.byFormula(scale))
    }
}
