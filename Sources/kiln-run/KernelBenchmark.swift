import Foundation
import Kiln

/// `kiln-run bench --kernels`: every matrix-product kernel on every tier at the shapes of
/// SmolLM2-135M (576, 1536, 49152) and Llama-7B (4096, 11008), decode (batch 1) and prompt
/// (batch 64), against this machine's own streaming-read bandwidth.
///
/// Weights are "cold": each product reads a different copy, rotating over at least 256 MiB
/// (8× a 32 MiB L3), so they come from DRAM as a model's weights do when it decodes.
struct KernelBenchmark {
    var tiers: [KernelTier]
    var types: [ElementType]
    var shapes: [(rows: Int, cols: Int)]
    var batches: [Int]
    var threads: Int
    var log: Bool

    static let defaultShapes = [(576, 576), (576, 1536), (1536, 576), (49152, 576), (4096, 4096), (4096, 11008)]
    static let defaultTypes: [ElementType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q8_0x8, .q4_0x8, .q4_1x8]
    static let rotationBytes = 256 << 20

    func run() -> JSONValue {
        var bandwidth: [Int: Double] = [:]
        for n in Set([1, 2, threads]).sorted() { bandwidth[n] = measureBandwidth(threads: n) }
        Kernels.setThreads(threads)
        let dispatch = dispatchMicroseconds()
        if log {
            for (n, gbps) in bandwidth.sorted(by: { $0.key < $1.key }) {
                print(String(format: "streaming read, %d thread%@: %.1f GB/s", n, n == 1 ? "" : "s", gbps))
            }
            print(String(format: "thread pool dispatch (%d threads, empty tasks): %.2f µs median", threads, dispatch))
            print("kernel   tier      rows ×  cols batch thr    time      GB/s  GFLOP/s  of bandwidth")
        }
        var results: [JSONValue] = []
        for tier in tiers {
            guard let table = KernelTable(tier: tier) else { continue }
            for type in types {
                for shape in shapes {
                    guard shape.cols % type.blockElements == 0 else { continue }
                    let weights = ColdWeights(type: type, rows: shape.rows, cols: shape.cols)
                    for batch in batches {
                        let seconds = weights.medianSeconds(table: table, batch: batch)
                        let gbps = Double(weights.matrixBytes) / seconds / 1e9
                        let gflops = 2 * Double(shape.rows * shape.cols * batch) / seconds / 1e9
                        let fraction = gbps / bandwidth[threads]!
                        if log {
                            print(String(format: "%-8@ %-8@ %6d × %5d %5d %3d %8.3f ms %7.2f %8.1f  %5.1f%%", type.name, tier.rawValue,
                                         shape.rows, shape.cols, batch, threads, seconds * 1e3, gbps, gflops, fraction * 100))
                        }
                        results.append(.object([
                            "kernel": .string(type.name), "tier": .string(tier.rawValue), "rows": .int(Int64(shape.rows)),
                            "cols": .int(Int64(shape.cols)), "batch": .int(Int64(batch)), "threads": .int(Int64(threads)),
                            "seconds": .double(seconds), "gbps": .double(gbps), "gflops": .double(gflops),
                            "bandwidth_fraction": .double(fraction),
                        ]))
                    }
                }
            }
        }
        return .object([
            "read_bandwidth_gbps": .double(bandwidth[threads]!),
            "read_bandwidth_gbps_by_threads": .object(Dictionary(uniqueKeysWithValues: bandwidth.map { (String($0.key), .double($0.value)) })),
            "threads": .int(Int64(threads)),
            "pool_dispatch_microseconds": .double(dispatch),
            "results": .array(results),
        ])
    }

    /// What one parallel call costs beyond its work: `threads` empty tasks, back to back as
    /// decode issues them (~200 products per token).
    private func dispatchMicroseconds() -> Double {
        var times: [Double] = []
        for _ in 0..<20_000 { times.append(timed { Kernels.parallelFor(threads) { _ in } }) }
        return median(times) * 1e6
    }

    /// Median over 15 sums of a 512 MiB buffer with the fastest tier's streaming loop.
    private func measureBandwidth(threads: Int) -> Double {
        Kernels.setThreads(threads)
        let bytes = 512 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { buffer.deallocate() }
        let floats = buffer.bindMemory(to: Float.self, capacity: bytes / 4)
        floats.initialize(repeating: 1, count: bytes / 4)
        var sink: Float = 0
        let times = (0..<15).map { _ in
            timed { sink += Kernels.table.streamRead(floats, bytes: bytes) }
        }
        precondition(sink > 0)
        return Double(bytes) / median(times) / 1e9
    }
}

/// Copies of one random weight matrix, enough to rotate through `KernelBenchmark.rotationBytes`.
private final class ColdWeights {
    let matrixBytes: Int
    let stride: Int
    let copies: Int
    let storage: UnsafeMutableRawPointer
    let type: ElementType
    let rows: Int
    let cols: Int
    private var next = 0

    init(type: ElementType, rows: Int, cols: Int) {
        self.type = type
        self.rows = rows
        self.cols = cols
        matrixBytes = try! type.byteCount(shape: [rows, cols])
        stride = (matrixBytes + 4095) / 4096 * 4096
        copies = max(2, (KernelBenchmark.rotationBytes + stride - 1) / stride)
        storage = UnsafeMutableRawPointer.allocate(byteCount: stride * copies, alignment: 4096)
        fillRandom(storage)
        for c in 1..<copies { (storage + c * stride).copyMemory(from: storage, byteCount: matrixBytes) }
    }

    deinit { storage.deallocate() }

    /// Realistic values: floats in [−1, 1]; blocks with random codes and small, finite f16 scales.
    private func fillRandom(_ p: UnsafeMutableRawPointer) {
        var random = SplitMix(seed: UInt64(type.id) + 1)
        let bytes = p.bindMemory(to: UInt8.self, capacity: matrixBytes)
        for i in 0..<matrixBytes { bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
        switch type {
        case .f32:
            let f = p.bindMemory(to: Float.self, capacity: matrixBytes / 4)
            for i in 0..<(matrixBytes / 4) { f[i] = Float(Int(random.next() % 2001) - 1000) / 1000 }
        case .f16, .bf16:
            let h = p.bindMemory(to: UInt16.self, capacity: matrixBytes / 2)
            for i in 0..<(matrixBytes / 2) {
                let v = Float(Int(random.next() % 2001) - 1000) / 1000
                h[i] = type == .f16 ? HalfPrecision.halfFromFloat(v) : HalfPrecision.bfloatFromFloat(v)
            }
        default:
            // Scales and minima: the f16 fields at the start of each row-major block or group block.
            let interleaving = type.interleaving
            let base = interleaving?.base ?? type
            let headerFields = base == .q4_1 ? 2 : 1
            let unit = interleaving?.groupBlockBytes ?? base.blockBytes
            let fields = headerFields * (interleaving?.rows ?? 1)
            for start in Swift.stride(from: 0, to: matrixBytes, by: unit) {
                for f in 0..<fields {
                    let v = HalfPrecision.halfFromFloat(Float(random.next() % 1000 + 1) / 40000)
                    (p + start + 2 * f).storeBytes(of: v, as: UInt16.self)
                }
            }
        }
    }

    /// The median of at least 5 products (more while under 0.3 s), each on the next copy.
    func medianSeconds(table: KernelTable, batch: Int) -> Double {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: batch * cols)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: batch * rows)
        defer { x.deallocate(); y.deallocate() }
        var random = SplitMix(seed: 7)
        for i in 0..<(batch * cols) { x[i] = Float(Int(random.next() % 2001) - 1000) / 500 }
        let product = { [self] in
            table.matmul(WeightMatrix(type: type, rows: rows, cols: cols, data: storage + next * stride), x, batch: batch, y)
            next = (next + 1) % copies
        }
        product()  // warm-up: page faults, pool start, scratch growth
        var times: [Double] = []
        var total = 0.0
        while times.count < 5 || (total < 0.3 && times.count < 2000) {
            let t = timed(product)
            times.append(t)
            total += t
        }
        return median(times)
    }
}

private func timed(_ body: () -> Void) -> Double {
    let start = DispatchTime.now()
    body()
    return elapsed(since: start)
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
