import Dispatch
import Foundation
import KilnCore

/// A weight matrix `[rows, cols]` of any element type, row-major, as stored in the model file.
struct Matrix: @unchecked Sendable {
    // Sendable: read-only memory kept alive by `owner`.
    /// The canonical tensor name (for calibration statistics and errors).
    let name: String
    let type: ElementType
    let rows: Int
    let cols: Int
    let data: UnsafeRawPointer
    let owner: AnyObject
    var rowBytes: Int { cols / type.blockElements * type.blockBytes }
}

/// The numeric operations of a forward pass. These are portable scalar versions; the SIMD
/// kernels plug in underneath with the same meaning, so the transformer code never changes.
enum Ops {
    /// Work is split over threads only when there is enough of it to pay for the dispatch.
    nonisolated(unsafe) static var threads = ProcessInfo.processInfo.activeProcessorCount

    /// `y[r] = Σ W[r, c] · x[c]` for every row.
    static func matvec(_ w: Matrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        matmul(w, x, batch: 1, y)
    }

    /// `Y[b, r] = Σ W[r, c] · X[b, c]`: X is `[batch, cols]`, Y is `[batch, rows]`.
    static func matmul(_ w: Matrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        let rows = w.rows, cols = w.cols
        let chunk = 64
        let chunks = (rows + chunk - 1) / chunk
        let work = { (c: Int) in
            let start = c * chunk, end = min(rows, start + chunk)
            if w.type == .f32 {
                let matrix = w.data.assumingMemoryBound(to: Float.self)
                for r in start..<end {
                    for b in 0..<batch { y[b * rows + r] = dot(matrix + r * cols, x + b * cols, cols) }
                }
                return
            }
            let row = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer { row.deallocate() }
            for r in start..<end {
                w.type.decodeBlocks(w.data + r * w.rowBytes, blocks: cols / w.type.blockElements, into: row)
                for b in 0..<batch { y[b * rows + r] = dot(row, x + b * cols, cols) }
            }
        }
        if threads > 1 && rows * cols * batch >= 1 << 16 && chunks > 1 {
            parallelFor(chunks, work)
        } else {
            for c in 0..<chunks { work(c) }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        // Four accumulators: keeps the sum order fixed and lets the compiler vectorise.
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]
            s1 += a[i + 1] * b[i + 1]
            s2 += a[i + 2] * b[i + 2]
            s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float,
                        into out: UnsafeMutablePointer<Float>) {
        var sum: Double = 0
        for i in 0..<count { sum += Double(x[i]) * Double(x[i]) }
        let scale = Float(1 / (sum / Double(count) + Double(eps)).squareRoot())
        for i in 0..<count { out[i] = x[i] * scale * weight[i] }
    }

    static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int,
                          eps: Float, into out: UnsafeMutablePointer<Float>) {
        var mean: Double = 0
        for i in 0..<count { mean += Double(x[i]) }
        mean /= Double(count)
        var variance: Double = 0
        for i in 0..<count { let d = Double(x[i]) - mean; variance += d * d }
        variance /= Double(count)
        let scale = 1 / (variance + Double(eps)).squareRoot()
        for i in 0..<count {
            out[i] = Float((Double(x[i]) - mean) * scale) * weight[i] + (bias?[i] ?? 0)
        }
    }

    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count { x[i] = expf(x[i] - maximum); sum += x[i] }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }

    /// Rotates each head of `x = [heads, headDim]` in place for `position`.
    static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, position: Int,
                     base: Float, freqScale: Float, neox: Bool) {
        let half = rotaryDims / 2
        for i in 0..<half {
            let theta = Float(position) * freqScale * powf(base, -2 * Float(i) / Float(rotaryDims))
            let c = cosf(theta), s = sinf(theta)
            for h in 0..<heads {
                let head = x + h * headDim
                let (a, b) = neox ? (i, i + half) : (2 * i, 2 * i + 1)
                let x0 = head[a], x1 = head[b]
                head[a] = x0 * c - x1 * s
                head[b] = x0 * s + x1 * c
            }
        }
    }

    /// GELU, tanh approximation (GPT-2's `gelu_new`).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let k: Float = 0.797_884_560_802_865_4  // sqrt(2/pi)
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanhf(k * (v + 0.044715 * v * v * v)))
        }
    }

    /// `gate = silu(gate) * up`.
    static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// One query head against `positions` cached keys/values (row stride `stride` floats):
    /// softmax(q·k × scale) weighted sum of v, into `out[headDim]`.
    static func attention(query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                          positions: Int, headDim: Int, scale: Float, scratch: UnsafeMutablePointer<Float>,
                          into out: UnsafeMutablePointer<Float>) {
        for t in 0..<positions { scratch[t] = dot(query, keys + t * stride, headDim) * scale }
        softmax(scratch, count: positions)
        for d in 0..<headDim { out[d] = 0 }
        for t in 0..<positions {
            let p = scratch[t], v = values + t * stride
            for d in 0..<headDim { out[d] += p * v[d] }
        }
    }
}
