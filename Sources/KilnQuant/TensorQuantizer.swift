import Dispatch
import Foundation
import KilnCore

/// How far a quantised tensor is from the original: computed by decoding the result exactly
/// as every reader will, with the same statistics `kiln diff` reports (`TensorComparison`),
/// so a diff of the source against the quantised file repeats these numbers.
public struct QuantizationError: Sendable, Equatable {
    /// Original (A) against decoded (B).
    public var comparison: TensorComparison
    /// Importance-weighted mean squared error (equals the MSE with uniform importance).
    public var weightedMSE: Double

    /// Root-mean-square error, in the weights' units.
    public var rmse: Double { comparison.rmse }
    /// The largest absolute error of any weight.
    public var maxAbs: Double { comparison.maxAbs }
    /// 10·log10(Σx² / Σ(x − x̂)²); infinite when exact.
    public var snrDecibels: Double { comparison.snrDB }
}

/// Quantises whole matrices, rows spread over threads. Each row is quantised independently,
/// so the result does not depend on the thread count.
package enum TensorQuantizer {
    /// Where a matrix's f32 rows come from.
    package enum RowSource {
        /// Already in memory: `rows × cols` row-major floats.
        case matrix(UnsafePointer<Float>)
        /// Decoded a chunk at a time: `fill(first, count, into)` writes rows `first ..< first +
        /// count` (`count × cols` floats). Called from several threads at once, for different rows.
        /// An f16 source quantises without an f32 copy of the whole tensor (a 128 k-token
        /// vocabulary's embedding at width 4096 is 2 GB of f32), each chunk's rows converted just
        /// before they are quantised, while they are in cache.
        case decode(_ fill: @Sendable (_ first: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) -> Void)
    }

    /// Quantises `values` (`rows × cols`, row-major f32) to `scheme`. `importance` has `cols`
    /// entries (one per input column) or is nil for uniform weighting.
    package static func quantize(_ values: UnsafePointer<Float>, rows: Int, cols: Int, scheme: QuantScheme,
                                importance: [Float]?, method: QuantMethod, threads: Int) throws -> (OwnedBytes, QuantizationError) {
        try quantize(.matrix(values), rows: rows, cols: cols, scheme: scheme, importance: importance, method: method, threads: threads)
    }

    /// Quantises the `rows × cols` matrix that `source` gives to `scheme`; as above.
    package static func quantize(_ source: RowSource, rows: Int, cols: Int, scheme: QuantScheme,
                                importance: [Float]?, method: QuantMethod, threads: Int) throws -> (OwnedBytes, QuantizationError) {
        let type = scheme.type
        let byteCount = try type.byteCount(shape: [rows, cols])
        let output = try OwnedBytes(count: byteCount)
        let rowBytes = byteCount / max(rows, 1)
        if let importance, importance.count != cols {
            throw KilnError(.usage, "importance has \(importance.count) entries for \(cols) columns")
        }
        let chunk = max(1, 16_384 / max(cols, 1))
        let chunks = (rows + chunk - 1) / chunk
        let partials = UnsafeMutablePointer<(TensorComparison, Double, Double)>.allocate(capacity: max(chunks, 1))
        defer { partials.deallocate() }
        let quantizer = scheme.quantizer
        let out = UncheckedBox(output.pointer), sourceBox = UncheckedBox(source), partialsBox = UncheckedBox(partials)
        importance.withUnsafeBufferPointerOptional { importanceBuffer in
            let importanceBox = UncheckedBox(importanceBuffer)
            let work = { (c: Int) in
                let first = c * chunk, count = min(rows, first + chunk) - first
                let decoded = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { decoded.deallocate() }
                // The chunk's rows: in place, or decoded into a buffer of their own.
                let chunkRows: UnsafePointer<Float>
                var converted: UnsafeMutablePointer<Float>?
                defer { converted?.deallocate() }
                switch sourceBox.value {
                case .matrix(let values):
                    chunkRows = values + first * cols
                case .decode(let fill):
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count * cols)
                    converted = buffer
                    fill(first, count, buffer)
                    chunkRows = UnsafePointer(buffer)
                }
                var comparison = TensorComparison()
                var weightedError = 0.0, weightTotal = 0.0
                for r in first..<(first + count) {
                    let x = chunkRows + (r - first) * cols
                    let destination = out.value + r * rowBytes
                    if let quantizer {
                        quantizer.quantize(x, count: cols, importance: importanceBox.value?.baseAddress, method: method, into: destination)
                    } else if scheme == .f16 {
                        for i in 0..<cols {
                            destination.storeBytes(of: HalfPrecision.halfFromFloat(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                        }
                    } else {
                        destination.copyMemory(from: x, byteCount: cols * 4)
                    }
                    type.decodeBlocks(destination, blocks: cols / type.blockElements, into: decoded)
                    comparison.add(UnsafeBufferPointer(start: x, count: cols), UnsafeBufferPointer(start: decoded, count: cols))
                    // With uniform importance the weighted MSE is the comparison's MSE (below).
                    if let importance = importanceBox.value {
                        for i in 0..<cols {
                            let difference = Double(x[i]) - Double(decoded[i])
                            let w = Double(importance[i])
                            weightedError += w * difference * difference
                            weightTotal += w
                        }
                    }
                }
                partialsBox.value.advanced(by: c).initialize(to: (comparison, weightedError, weightTotal))
            }
            if threads > 1 && chunks > 1 {
                parallelFor(chunks, work)
            } else {
                for c in 0..<chunks { work(c) }
            }
        }
        // Merged in chunk order, so the report is the same for any thread count.
        var comparison = TensorComparison(), weightedError = 0.0, weightTotal = 0.0
        for c in 0..<chunks {
            comparison.merge(partials[c].0)
            weightedError += partials[c].1
            weightTotal += partials[c].2
        }
        partials.deinitialize(count: chunks)
        let mse = comparison.finiteElements > 0 ? comparison.sumSquaredError / Double(comparison.finiteElements) : 0
        let weightedMSE = importance == nil ? mse : weightTotal > 0 ? weightedError / weightTotal : 0
        return (output, QuantizationError(comparison: comparison, weightedMSE: weightedMSE))
    }
}

typealias UncheckedBox = UncheckedSendable

extension Optional where Wrapped == [Float] {
    func withUnsafeBufferPointerOptional<R>(_ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .some(let array): return try array.withUnsafeBufferPointer { try body($0) }
        case .none: return try body(nil)
        }
    }
}
