/// Scalar conversions between f32 and the 16-bit float formats, written out on the bit
/// patterns so they behave the same on every platform (`Float16` is missing on macOS x86-64).
package enum HalfPrecision {
    /// IEEE 754 binary16 → binary32, exact (subnormals, infinities and NaN payloads kept).
    @inlinable
    package static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h) & 0x3FF
        let bits: UInt32
        if exponent == 0x1F {
            bits = sign | 0x7F80_0000 | (mantissa << 13)
        } else if exponent != 0 {
            bits = sign | ((exponent + 112) << 23) | (mantissa << 13)
        } else if mantissa == 0 {
            bits = sign
        } else {
            // Subnormal half: normalise it; every one is a normal f32.
            var e: UInt32 = 113
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            bits = sign | (e << 23) | ((mantissa & 0x3FF) << 13)
        }
        return Float(bitPattern: bits)
    }

    /// binary32 → binary16 with round-to-nearest-even, overflow to infinity, NaN kept quiet.
    @inlinable
    package static func halfFromFloat(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        let mantissa = x & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa != 0 ? UInt16(0x200 | (mantissa >> 13)) : 0)
        }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            // Result is subnormal (or zero): shift the implicit-one mantissa into place, round to nearest even.
            if e < -10 { return sign }
            let full = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var half = full >> shift
            let remainder = full & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = UInt32(e) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)  // a carry into the exponent rounds correctly, up to infinity
    }

    /// bfloat16 → binary32, exact.
    @inlinable
    package static func floatFromBFloat(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// binary32 → bfloat16 with round-to-nearest-even; NaN stays NaN.
    @inlinable
    package static func bfloatFromFloat(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if f.isNaN { return UInt16(x >> 16) | 0x40 }
        let rounding = 0x7FFF + ((x >> 16) & 1)
        return UInt16((x &+ rounding) >> 16)
    }
}
