import CKilnKernels
import KilnCore

/// Kiln's compute kernels: matrix products for every weight type, the other hot loops of a
/// transformer, and the thread pool they share. The tier (`reference`, `portable`, `avx2`,
/// `neon`) is chosen once, at first use, from the CPU's features or `KILN_KERNEL_TIER`.
///
/// The pointer arguments are the caller's buffers; nothing is retained after a call returns.
/// Products run on the shared pool; the other kernels run on the calling thread.
package enum Kernels {
    /// The table every call below goes through.
    package static let table: KernelTable = KernelTable(tier: KernelTier.selected)!

    package static var tier: KernelTier { table.tier }

    /// Threads for the matrix products, the caller included (the runtime's `--threads`).
    /// Default: the number of online CPUs.
    package static func setThreads(_ n: Int) { kiln_pool_set_threads(Int32(clamping: n)) }
    package static var threads: Int { Int(kiln_pool_threads()) }

    package static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        table.matvec(w, x, y)
    }

    package static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        table.matmul(w, x, batch: batch, y)
    }

    /// Several products of the same activations, as one pool job (`KernelTable.matmul(_:_:batch:_:before:)`).
    package static func matmul(_ ws: [WeightMatrix], _ x: UnsafePointer<Float>, batch: Int, _ outputs: [UnsafeMutablePointer<Float>],
                               before: ((Int, Int) -> Void)? = nil) {
        table.matmul(ws, x, batch: batch, outputs, before: before)
    }

    package static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, into out: UnsafeMutablePointer<Float>) {
        table.rmsNorm(x, weight: weight, count: count, eps: eps, into: out)
    }

    package static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int, eps: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        table.layerNorm(x, weight: weight, bias: bias, count: count, eps: eps, into: out)
    }

    package static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) { table.softmax(x, count: count) }

    package static func rope(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, position: Int, base: Float, freqScale: Float,
        mode: RopeMode
    ) {
        table.rope(x, heads: heads, headDim: headDim, rotaryDims: rotaryDims, position: position, base: base, freqScale: freqScale, mode: mode)
    }

    package static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int, angles: RopeAngles, mode: RopeMode) {
        table.rope(x, heads: heads, headDim: headDim, position: position, angles: angles, mode: mode)
    }

    package static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.gelu(x, count: count) }
    package static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.silu(x, count: count) }
    package static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) { table.swiglu(gate: gate, up: up, count: count) }

    /// The index of the largest of `x[0 ..< count]` (greedy decoding): the first on a tie; a NaN
    /// is never picked unless `x[0]` is one (then 0), as a plain `x[i] > x[best]` scan would.
    package static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int { Int(kiln_argmax(x, Int64(count))) }

    package static func convert(_ source: UnsafePointer<UInt16>, from format: HalfFormat, into destination: UnsafeMutablePointer<Float>, count: Int) {
        table.convert(source, from: format, into: destination, count: count)
    }

    package static func convert(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, as format: HalfFormat, count: Int) {
        table.convert(source, into: destination, as: format, count: count)
    }
}
