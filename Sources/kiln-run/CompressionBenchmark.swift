import Foundation
import Kiln
import KilnCommandLine

/// Compresses every multi-byte float tensor of a model with zstd, plain and after the byte-plane
/// shuffle, and reports the ratios: the evidence for (or against) the shuffle filter.
struct CompressionBenchmark {
    let path: String
    let level: Int32
    let log: Bool

    func run() throws -> JSONValue {
        let reader = try FormatRegistry.open(path)
        var raw = 0, plain = 0, shuffled = 0, best = 0, tensors = 0
        var plainSeconds = 0.0, shuffledSeconds = 0.0
        for tensor in reader.sourceTensors where tensor.type.category == .float && (tensor.type.scalarBytes ?? 0) > 1 {
            let data = try reader.data(tensor)
            let (p, s, tp, ts) = try withExtendedLifetime(data.owner) { () -> (Int, Int, Double, Double) in
                var start = DispatchTime.now()
                let p = try TensorCompression.zstdCompress(data.bytes, level: level).count
                let tp = seconds(since: start)
                let planes = try OwnedBytes(count: data.bytes.count)
                TensorCompression.shuffle(data.bytes, width: tensor.type.scalarBytes!, into: planes.mutableBuffer)
                start = DispatchTime.now()
                let s = try planes.withBytes { try TensorCompression.zstdCompress($0, level: level).count }
                return (p, s, tp, seconds(since: start))
            }
            raw += tensor.byteCount
            plain += p
            shuffled += s
            best += min(p, s, tensor.byteCount)
            plainSeconds += tp
            shuffledSeconds += ts
            tensors += 1
        }
        guard raw > 0 else { throw KilnError(.usage, "has no f16/bf16/f32/f64 tensors to compress", file: path) }
        if log {
            print("\(tensors) float tensors, \(Inspection.bytes(raw)) (zstd level \(level))")
            print(String(format: "  zstd:            %.4f of original (%.1f MB/s)", Double(plain) / Double(raw), Double(raw) / plainSeconds / 1e6))
            print(String(format: "  shuffle + zstd:  %.4f of original (%.1f MB/s)", Double(shuffled) / Double(raw), Double(raw) / shuffledSeconds / 1e6))
            print(String(format: "  best per tensor: %.4f of original (what `kiln convert --compress` stores)", Double(best) / Double(raw)))
        }
        return .object([
            "file": .string(path), "level": .int(Int64(level)), "tensors": .int(Int64(tensors)), "raw_bytes": .int(Int64(raw)),
            "zstd_ratio": .double(Double(plain) / Double(raw)), "shuffle_zstd_ratio": .double(Double(shuffled) / Double(raw)),
            "best_ratio": .double(Double(best) / Double(raw)),
        ])
    }
}
