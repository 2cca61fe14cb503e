/// Scalar reference decoders for ggml's "K-quant" super-blocks (256 values each; layouts in
/// docs/FORMAT.md §7.2), ported from ggml's `dequantize_row_q*_K`. Every product and difference
/// is a separate f32 operation in ggml's order (`(d × sc) × q − dmin × m`), so results are
/// bit-identical to ggml and gguf-py.
enum KQuantDecoders {
    typealias Decoder = @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void

    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    private static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Q2_K (84 bytes): `u8 scales[16]; u8 qs[64]; f16 d; f16 dmin`. 16 groups of 16 values,
    /// each with a 4-bit scale (low nibble) and 4-bit minimum (high nibble); 2-bit quants.
    /// Value `128n + 32j + l` takes bits `2j…2j+1` of `qs[32n + l]` and scale `8n + 2j + l/16`.
    static let q2_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 84
            let d = half(block, 80)
            let dmin = half(block, 82)
            let y = out + b * 256
            for n in 0..<2 {
                for j in 0..<4 {
                    for l in 0..<32 {
                        let sc = byte(block, 8 * n + 2 * j + l / 16)
                        let dl = d * Float(sc & 0x0F)
                        let ml = dmin * Float(sc >> 4)
                        let q = (byte(block, 16 + 32 * n + l) >> UInt8(2 * j)) & 3
                        y[128 * n + 32 * j + l] = dl * Float(q) - ml
                    }
                }
            }
        }
    }

    /// Q3_K (110 bytes): `u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d`. 16 groups of 16 with
    /// signed 6-bit scales (`s − 32`); 2 low bits from `qs` plus a high bit from `hmask`, where a
    /// *clear* high bit subtracts 4. Value `128n + 32j + l` uses `qs[32n + l]` bits `2j…2j+1`,
    /// bit `4n + j` of `hmask[l]`, and scale `8n + 2j + l/16`.
    static let q3_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 110
            let d = half(block, 108)
            let y = out + b * 256
            for n in 0..<2 {
                for j in 0..<4 {
                    let mask = UInt8(1) << UInt8(4 * n + j), shift = UInt8(2 * j)
                    for g in 0..<2 {
                        // The group's d × scale once (the same product for its 16 values), as q6_K.
                        let dl = d * q3Scale(8 * n + 2 * j + g, block + 96)
                        for l in (16 * g)..<(16 * g + 16) {
                            let low = Int((byte(block, 32 + 32 * n + l) >> shift) & 3)
                            let q = low - (byte(block, l) & mask != 0 ? 0 : 4)
                            y[128 * n + 32 * j + l] = dl * Float(q)
                        }
                    }
                }
            }
        }
    }

    /// Signed scale `k` (0..<16) of a Q3_K block from the 12 bytes at `scales`: its low 4 bits
    /// are nibble `k / 8` of byte `k % 8`, its high 2 bits are bits `2(k / 4)…` of byte
    /// `8 + k % 4` (ggml's kmask1/kmask2 shuffle), stored offset by 32.
    @inline(__always)
    private static func q3Scale(_ k: Int, _ scales: UnsafeRawPointer) -> Float {
        let low = (byte(scales, k % 8) >> UInt8(4 * (k / 8))) & 0x0F
        let high = (byte(scales, 8 + k % 4) >> UInt8(2 * (k / 4))) & 0x03
        return Float(Int(low | (high << 4)) - 32)
    }

    /// The 6-bit scale and minimum of sub-block `j` (0..<8) of a Q4_K/Q5_K block, packed in
    /// the 12 bytes at `scales` (ggml's `get_scale_min_k4`).
    @inline(__always)
    private static func scaleMin(_ j: Int, _ scales: UnsafeRawPointer) -> (scale: Float, min: Float) {
        if j < 4 {
            return (Float(byte(scales, j) & 63), Float(byte(scales, j + 4) & 63))
        }
        let scale = (byte(scales, j + 4) & 0x0F) | ((byte(scales, j - 4) >> 6) << 4)
        let min = (byte(scales, j + 4) >> 4) | ((byte(scales, j) >> 6) << 4)
        return (Float(scale), Float(min))
    }

    /// Q4_K (144 bytes): `f16 d; f16 dmin; u8 scales[12]; u8 qs[128]`. 8 sub-blocks of 32; chunk
    /// `c` (64 values) takes the low then the high nibbles of `qs[32c ..< 32c + 32]`.
    static let q4_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 144
            let d = half(block, 0)
            let dmin = half(block, 2)
            let y = out + b * 256
            for c in 0..<4 {
                let (sc1, m1) = scaleMin(2 * c, block + 4)
                let (sc2, m2) = scaleMin(2 * c + 1, block + 4)
                let d1 = d * sc1, min1 = dmin * m1
                let d2 = d * sc2, min2 = dmin * m2
                for l in 0..<32 {
                    let q = byte(block, 16 + 32 * c + l)
                    y[64 * c + l] = d1 * Float(q & 0x0F) - min1
                    y[64 * c + 32 + l] = d2 * Float(q >> 4) - min2
                }
            }
        }
    }

    /// Q5_K (176 bytes): `f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]`. As Q4_K, plus
    /// 16 when bit `2c` (first 32 of chunk `c`) or `2c + 1` (second 32) of `qh[l]` is set.
    static let q5_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 176
            let d = half(block, 0)
            let dmin = half(block, 2)
            let y = out + b * 256
            for c in 0..<4 {
                let (sc1, m1) = scaleMin(2 * c, block + 4)
                let (sc2, m2) = scaleMin(2 * c + 1, block + 4)
                let d1 = d * sc1, min1 = dmin * m1
                let d2 = d * sc2, min2 = dmin * m2
                let bit1 = UInt8(1) << UInt8(2 * c), bit2 = UInt8(2) << UInt8(2 * c)
                for l in 0..<32 {
                    let q = byte(block, 48 + 32 * c + l)
                    let h = byte(block, 16 + l)
                    y[64 * c + l] = d1 * Float((q & 0x0F) + (h & bit1 != 0 ? 16 : 0)) - min1
                    y[64 * c + 32 + l] = d2 * Float((q >> 4) + (h & bit2 != 0 ? 16 : 0)) - min2
                }
            }
        }
    }

    /// Q6_K (210 bytes): `u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d` (d last). 16 groups of
    /// 16 with signed 8-bit scales; 6-bit quants minus 32. In half `n` (128 values), value
    /// `32k + l` takes nibble `k / 2` of `ql[64n + 32(k % 2) + l]` and bits `2k…2k+1` of
    /// `qh[32n + l]`; its scale is `8n + 2k + l/16`.
    /// (Each group's `d × scale` is formed once: the same product for all its 16 values, and
    /// the loop over them runs without a computed scale index — the quantiser's search decodes
    /// every candidate block, and the per-value form was a sixth of a Q4_K_M quantisation.)
    static let q6_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 210
            let d = half(block, 208)
            let y = out + b * 256
            for n in 0..<2 {
                let qh = block + 128 + 32 * n
                for k in 0..<4 {
                    let ql = block + 64 * n + 32 * (k % 2)
                    let lowShift = UInt8(4 * (k / 2)), highShift = UInt8(2 * k)
                    for g in 0..<2 {
                        let ds = d * Float(Int8(bitPattern: byte(block, 192 + 8 * n + 2 * k + g)))
                        let row = y + 128 * n + 32 * k
                        for l in (16 * g)..<(16 * g + 16) {
                            let low = (byte(ql, l) >> lowShift) & 0x0F, high = (byte(qh, l) >> highShift) & 0x03
                            row[l] = ds * Float(Int32(low | high << 4) - 32)
                        }
                    }
                }
            }
        }
    }

    /// Q8_K (292 bytes): `f32 d; i8 qs[256]; i16 bsums[16]`. The scale is an f32, not an f16;
    /// `bsums` (sums of 16 quants, for dot products) does not affect the values.
    static let q8_K: Decoder = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 292
            let d = Float(bitPattern: UInt32(littleEndian: block.loadUnaligned(as: UInt32.self)))
            for j in 0..<256 {
                out[b * 256 + j] = d * Float(Int8(bitPattern: byte(block, 4 + j)))
            }
        }
    }
}
