import KilnCore
import KilnKernels

/// A weight matrix `[rows, cols]` of any element type, row-major (or in a kernel's
/// interleaved layout), as stored in the model file.
struct Matrix: @unchecked Sendable {
    // Sendable: read-only memory kept alive by `owner`.
    /// The canonical tensor name (for calibration statistics and errors).
    let name: String
    let type: ElementType
    let rows: Int
    let cols: Int
    let data: UnsafeRawPointer
    let owner: AnyObject

    var kernelMatrix: WeightMatrix { WeightMatrix(type: type, rows: rows, cols: cols, data: data) }

    /// Decodes one row to f32 (embedding lookups), whatever the layout.
    func decodeRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        Kernels.dequantizeRow(kernelMatrix, row: row, into: out)
    }
}

/// The numeric operations of a forward pass, as the transformer names them. Each forwards to
/// `Kernels`, which picks the fastest tier this CPU has (each tier tested against a scalar
/// reference), so the transformer's code does not depend on how the kernels are written.
enum Ops {
    static func setThreads(_ count: Int) { Kernels.setThreads(count) }

    /// `Y[b, r] = Σ W[r, c] · X[b, c]`: X is `[batch, cols]`, Y is `[batch, rows]`.
    static func matmul(_ w: Matrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        if batch == 1 {
            Kernels.matvec(w.kernelMatrix, x, y)
        } else {
            Kernels.matmul(w.kernelMatrix, x, batch: batch, y)
        }
    }

    /// Products of one input by several matrices (q/k/v, gate/up) in one pass over the pool.
    /// `before(b0, b1)` first writes rows `b0 ..< b1` of `x`, inside the products' pool job where it can.
    static func matmul(_ ws: [Matrix], _ x: UnsafePointer<Float>, batch: Int, _ ys: [UnsafeMutablePointer<Float>],
                       before: ((Int, Int) -> Void)? = nil) {
        Kernels.matmul(ws.map(\.kernelMatrix), x, batch: batch, ys, before: before)
    }

    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float,
                        into out: UnsafeMutablePointer<Float>) {
        Kernels.rmsNorm(x, weight: weight, count: count, eps: eps, into: out)
    }

    static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int,
                          eps: Float, into out: UnsafeMutablePointer<Float>) {
        Kernels.layerNorm(x, weight: weight, bias: bias, count: count, eps: eps, into: out)
    }

    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { Kernels.gelu(x, count: count) }

    static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Kernels.swiglu(gate: gate, up: up, count: count)
    }
}
