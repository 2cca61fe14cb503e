import Foundation
import KilnCore

/// Scalar references for the other hot loops, computed in Double and rounded once at the end,
/// with the textbook formulas (the C tiers use cancellation-free rearrangements and polynomial
/// exponentials; the tests bound the difference).
extension Reference {
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, into out: UnsafeMutablePointer<Float>) {
        var squares = 0.0
        for i in 0..<count { squares += Double(x[i]) * Double(x[i]) }
        let scale = 1 / (squares / Double(count) + Double(eps)).squareRoot()
        for i in 0..<count { out[i] = Float(Double(x[i]) * scale * Double(weight[i])) }
    }

    static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int, eps: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        var sum = 0.0
        for i in 0..<count { sum += Double(x[i]) }
        let mean = sum / Double(count)
        var squares = 0.0
        for i in 0..<count { squares += (Double(x[i]) - mean) * (Double(x[i]) - mean) }
        let scale = 1 / (squares / Double(count) + Double(eps)).squareRoot()
        for i in 0..<count {
            out[i] = Float((Double(x[i]) - mean) * scale * Double(weight[i]) + Double(bias?[i] ?? 0))
        }
    }

    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var largest = x[0]
        for i in 0..<count { largest = max(largest, x[i]) }
        var e = [Double](repeating: 0, count: count)
        var sum = 0.0
        for i in 0..<count {
            e[i] = Foundation.exp(Double(x[i]) - Double(largest))
            sum += e[i]
        }
        for i in 0..<count { x[i] = Float(e[i] / sum) }
    }

    static func rope(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, position: Int, base: Float, freqScale: Float,
        mode: RopeMode
    ) {
        let pairs = rotaryDims / 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<pairs {
                let theta = Double(position) * Double(freqScale) * Foundation.pow(Double(base), -2 * Double(i) / Double(rotaryDims))
                let (a, b) = mode == .neox ? (i, i + pairs) : (2 * i, 2 * i + 1)
                let x0 = Double(v[a]), x1 = Double(v[b])
                v[a] = Float(x0 * Foundation.cos(theta) - x1 * Foundation.sin(theta))
                v[b] = Float(x0 * Foundation.sin(theta) + x1 * Foundation.cos(theta))
            }
        }
    }

    /// RoPE with each pair's cosine and sine given (`table`: rotaryDims/2 cosines, then the sines).
    static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, table: UnsafePointer<Float>,
                     mode: RopeMode) {
        let pairs = rotaryDims / 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<pairs {
                let (a, b) = mode == .neox ? (i, i + pairs) : (2 * i, 2 * i + 1)
                let x0 = v[a], x1 = v[b], c = table[i], s = table[pairs + i]
                v[a] = x0 * c - x1 * s
                v[b] = x0 * s + x1 * c
            }
        }
    }

    /// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = Double(x[i])
            x[i] = Float(0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
        }
    }

    static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = Float(silu(Double(x[i]))) }
    }

    static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { gate[i] = Float(silu(Double(gate[i])) * Double(up[i])) }
    }

    private static func silu(_ v: Double) -> Double { v / (1 + Foundation.exp(-v)) }

    static func convert(_ source: UnsafePointer<UInt16>, from format: HalfFormat, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            destination[i] = format == .f16 ? HalfPrecision.floatFromHalf(source[i]) : HalfPrecision.floatFromBFloat(source[i])
        }
    }

    static func convert(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, as format: HalfFormat, count: Int) {
        for i in 0..<count {
            destination[i] = format == .f16 ? HalfPrecision.halfFromFloat(source[i]) : HalfPrecision.bfloatFromFloat(source[i])
        }
    }
}
