import CKilnKernels
import KilnCore

/// Kiln's compute kernels: matrix products for every weight type, the other hot loops of a
/// transformer, and the thread pool they share. The tier (`reference`, `portable`, `avx2`,
/// `neon`) is chosen once, at first use, from the CPU's features or `KILN_KERNEL_TIER`.
///
/// The pointer arguments are the caller's buffers; nothing is retained after a call returns.
/// Products run on the shared pool; the other kernels run on the calling thread.
public enum Kernels {
    /// The table every call below goes through.
    public static let table: KernelTable = KernelTable(tier: KernelTier.selected)!

    public static var tier: KernelTier { table.tier }

    /// Threads for the matrix products, the caller included (the runtime's `--threads`).
    /// Default: the number of online CPUs.
    public static func setThreads(_ n: Int) { kiln_pool_set_threads(Int32(clamping: n)) }
    public static var threads: Int { Int(kiln_pool_threads()) }

    public static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        table.matvec(w, x, y)
    }

    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        table.matmul(w, x, batch: batch, y)
    }

    /// Several products of the same activations, as one pool job (`KernelTable.matmul(_:_:batch:_:)`).
    public static func matmul(_ ws: [WeightMatrix], _ x: UnsafePointer<Float>, batch: Int, _ outputs: [UnsafeMutablePointer<Float>]) {
        table.matmul(ws, x, batch: batch, outputs)
    }

    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, into out: UnsafeMutablePointer<Float>) {
        table.rmsNorm(x, weight: weight, count: count, eps: eps, into: out)
    }

    public static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int, eps: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        table.layerNorm(x, weight: weight, bias: bias, count: count, eps: eps, into: out)
    }

    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) { table.softmax(x, count: count) }

    public static func rope(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, position: Int, base: Float, freqScale: Float,
        mode: RopeMode
    ) {
        table.rope(x, heads: heads, headDim: headDim, rotaryDims: rotaryDims, position: position, base: base, freqScale: freqScale, mode: mode)
    }

    public static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int, angles: RopeAngles, mode: RopeMode) {
        table.rope(x, heads: heads, headDim: headDim, position: position, angles: angles, mode: mode)
    }

    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.gelu(x, count: count) }
    public static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.silu(x, count: count) }
    public static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) { table.swiglu(gate: gate, up: up, count: count) }

    public static func attention(
        query: UnsafePointer<Float>, keys: KVView, values: KVView, positions: Int, headDim: Int, scale: Float,
        scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        table.attention(query: query, keys: keys, values: values, positions: positions, headDim: headDim, scale: scale, scratch: scratch, into: out)
    }

    public static func convert(_ source: UnsafePointer<UInt16>, from format: HalfFormat, into destination: UnsafeMutablePointer<Float>, count: Int) {
        table.convert(source, from: format, into: destination, count: count)
    }

    public static func convert(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, as format: HalfFormat, count: Int) {
        table.convert(source, into: destination, as: format, count: count)
    }
}
