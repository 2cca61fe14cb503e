import KilnCore

/// How scales are chosen.
public enum QuantMethod: String, Sendable {
    /// The reference rounding of ggml / gguf-py (bit-identical): fast, and the baseline.
    case roundToNearest = "rtn"
    /// An importance-weighted search over candidate scales (and minima) that keeps whichever
    /// decodes closest to the input; never worse than round-to-nearest, which is a candidate.
    case search
}

/// Quantises whole blocks of one element type.
package protocol BlockQuantizer: Sendable {
    var type: ElementType { get }
    /// Quantises one block of `type.blockElements` values into `type.blockBytes` bytes.
    /// `importance` (same length, non-negative) weights the squared error; nil means uniform.
    func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                       into out: UnsafeMutableRawPointer)
    /// Quantises `count` values (a multiple of the block size); the default goes block by block,
    /// quantisers with a many-block search override it (same bytes).
    func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                  into out: UnsafeMutableRawPointer)
}

extension BlockQuantizer {
    /// Quantises `count` values (a multiple of the block size) block by block.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                         into out: UnsafeMutableRawPointer) {
        quantizeBlockByBlock(x, count: count, importance: importance, method: method, into: out)
    }

    /// `quantizeBlock` over each block of `count` values: the default `quantize`, and the bytes a
    /// many-block search must equal (and falls back to).
    package func quantizeBlockByBlock(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                                      into out: UnsafeMutableRawPointer) {
        let n = type.blockElements
        for block in 0..<(count / n) {
            quantizeBlock(x + block * n, importance: importance.map { $0 + block * n }, method: method,
                          into: out + block * type.blockBytes)
        }
    }
}

/// Helpers shared by the quantisers.
enum QuantMath {
    @inline(__always)
    static func weight(_ importance: UnsafePointer<Float>?, _ i: Int) -> Float { importance?[i] ?? 1 }

    @inline(__always)
    static func storeHalf(_ value: Float, _ out: UnsafeMutableRawPointer, _ offset: Int) {
        out.storeBytes(of: HalfPrecision.halfFromFloat(value).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// The value an f16 store will give back.
    @inline(__always)
    static func roundedToHalf(_ value: Float) -> Float {
        HalfPrecision.floatFromHalf(HalfPrecision.halfFromFloat(value))
    }

    /// Weighted squared error of decoding `n` values with `decode(i)`.
    @inline(__always)
    static func error(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, _ n: Int, _ decode: (Int) -> Float) -> Float {
        var e: Float = 0
        for i in 0..<n {
            let d = x[i] - decode(i)
            e += weight(importance, i) * d * d
        }
        return e
    }

    /// C's float-to-small-integer cast for the values the reference writers produce (truncation
    /// toward zero); out-of-range values, which C leaves undefined and only degenerate (tiny
    /// denormal) scales produce, are clipped instead of trapping.
    @inline(__always)
    static func truncatedSmallInt(_ value: Float) -> Int {
        value.isNaN ? 0 : Int(max(-128, min(255, value)).rounded(.towardZero))
    }

    /// Multipliers tried around the round-to-nearest scale by the searches.
    static let scaleFactors: [Float] = (0...12).map { 0.82 + Float($0) * 0.025 }
}
