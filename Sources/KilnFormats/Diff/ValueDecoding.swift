import KilnCore

/// Decodes tensor bytes of any element type to the values a comparison reads.
///
/// f32, f16 and bf16 values are exact in `Float`, so those types are decoded to `Float` (f32
/// in place when aligned: no copy) and widened to `Double` inside `TensorComparison`; half the
/// memory traffic of decoding to `Double`. Every other type goes straight to `Double`, so f64
/// and 64-bit integers are not squeezed through f32 (the registry's `dequantize` produces f32);
/// block types are dequantised by the registry to f32 (their exact values) and widened.
enum ValueDecoding {
    /// Types whose every value a `Float` holds exactly.
    static func isFloatExact(_ type: ElementType) -> Bool {
        type == .f32 || type == .f16 || type == .bf16
    }

    /// `count` values of a float-exact type at `source`: the bytes themselves when they are
    /// aligned f32, else decoded into `scratch`.
    static func floats(_ type: ElementType, _ source: UnsafeRawPointer, count: Int,
                       scratch out: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        switch type {
        case .f32:
            if Int(bitPattern: source) % MemoryLayout<Float>.alignment == 0 {
                return source.assumingMemoryBound(to: Float.self)
            }
            for i in 0..<count { out[i] = source.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        case .f16:
            // A table of all 65,536 halves (256 KiB, stays in cache) beats converting each one.
            halfTable.withUnsafeBufferPointer { table in
                for i in 0..<count { out[i] = table[Int(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))] }
            }
        case .bf16:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
        default:
            preconditionFailure("\(type.name) is not exact in Float")
        }
        return UnsafePointer(out)
    }

    /// Decodes `count` elements (a whole number of blocks) at `source` to `Double`. `floats` is
    /// scratch of at least `count` floats, used for block types.
    static func doubles(_ type: ElementType, _ source: UnsafeRawPointer, count: Int,
                        into out: UnsafeMutablePointer<Double>, floats: UnsafeMutablePointer<Float>) {
        func widen<T>(_: T.Type, _ convert: (T) -> Double) {
            for i in 0..<count { out[i] = convert(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        }
        switch type {
        case .f64: widen(Double.self) { $0 }
        case .i8: widen(Int8.self) { Double($0) }
        case .i16: widen(Int16.self) { Double($0) }
        case .i32: widen(Int32.self) { Double($0) }
        case .i64: widen(Int64.self) { Double($0) }
        case .u8: widen(UInt8.self) { Double($0) }
        case .u16: widen(UInt16.self) { Double($0) }
        case .u32: widen(UInt32.self) { Double($0) }
        case .u64: widen(UInt64.self) { Double($0) }
        case .bool: widen(UInt8.self) { $0 == 0 ? 0 : 1 }
        case _ where isFloatExact(type):
            let values = Self.floats(type, source, count: count, scratch: floats)
            for i in 0..<count { out[i] = Double(values[i]) }
        default:
            type.decodeBlocks(source, blocks: count / type.blockElements, into: floats)
            for i in 0..<count { out[i] = Double(floats[i]) }
        }
    }

    static let halfTable: [Float] = (0...UInt16.max).map { HalfPrecision.floatFromHalf($0) }
}
