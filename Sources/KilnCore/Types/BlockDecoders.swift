/// Scalar reference decoders for the GGUF-compatible block types. Each block starts with an
/// f16 scale `d` (and for the `_1` types an f16 minimum `m`); values are `d * q` or `d * q + m`,
/// computed in f32 exactly as ggml and gguf-py do, so results are bit-identical.
enum BlockDecoders {
    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    static let q8_0: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 34
            let d = half(block, 0)
            for j in 0..<32 {
                out[b * 32 + j] = d * Float(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self)))
            }
        }
    }

    static let q4_0: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 18
            let d = half(block, 0)
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                out[b * 32 + j] = Float(Int(q & 0x0F) - 8) * d
                out[b * 32 + j + 16] = Float(Int(q >> 4) - 8) * d
            }
        }
    }

    static let q4_1: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 20
            let d = half(block, 0)
            let m = half(block, 2)
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                out[b * 32 + j] = Float(q & 0x0F) * d + m
                out[b * 32 + j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    static let q5_0: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 22
            let d = half(block, 0)
            let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 6 + j, as: UInt8.self)
                let high0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
                let high1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
                out[b * 32 + j] = Float(Int((q & 0x0F) | high0) - 16) * d
                out[b * 32 + j + 16] = Float(Int((q >> 4) | high1) - 16) * d
            }
        }
    }

    static let q5_1: @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void = { source, blocks, out in
        for b in 0..<blocks {
            let block = source + b * 24
            let d = half(block, 0)
            let m = half(block, 2)
            let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 8 + j, as: UInt8.self)
                let high0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
                let high1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
                out[b * 32 + j] = Float((q & 0x0F) | high0) * d + m
                out[b * 32 + j + 16] = Float((q >> 4) | high1) * d + m
            }
        }
    }
}
