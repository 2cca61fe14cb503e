import Foundation
import Kiln
import KilnCommandLine

/// `kiln-run bench --kernels`: every matrix-product kernel on every tier at the shapes of
/// SmolLM2-135M (576, 1536, 49152) and Llama-7B (4096, 11008), decode (batch 1) and prompt
/// (batch 64), against this machine's own streaming-read bandwidth.
///
/// Weights are "cold": each product reads a different copy, rotating over at least 256 MiB
/// (8× a 32 MiB L3), so they come from DRAM as a model's weights do when it decodes. With
/// `hot`, every product reads the same copy, which stays in cache: the kernel's compute speed,
/// what a small model whose weights partly fit in the last-level cache sees.
///
/// On a shared machine other processes take memory bandwidth and CPU time, so each kernel's
/// samples alternate with streaming-read samples (rounds of ≥ 10 ms of each), and its
/// `bandwidth_fraction` is its median GB/s over the median streaming GB/s of those same rounds
/// (`paired_read_gbps`). On a quiet machine that equals the start-up `read_bandwidth_gbps`.
struct KernelBenchmark {
    var tiers: [KernelTier]
    var types: [ElementType]
    var shapes: [(rows: Int, cols: Int)]
    var batches: [Int]
    var threads: Int
    var hot = false
    var log: Bool

    static let defaultShapes = [(576, 576), (576, 1536), (1536, 576), (49152, 576), (4096, 4096), (4096, 11008)]
    /// Every type with a kernel (the C type table), in the registry's order.
    static var defaultTypes: [ElementType] { WeightMatrix.kernelTypes }
    static let rotationBytes = 256 << 20

    func run() -> JSONValue {
        var bandwidth: [Int: Double] = [:]
        for n in Set([1, 2, threads]).sorted() { bandwidth[n] = measureBandwidth(threads: n) }
        Kernels.setThreads(threads)
        let dispatch = dispatchMicroseconds()
        // Compute ceilings: one core's peak rate of each tier's widest instruction, × threads.
        var ceilings: [KernelTier: (f32: Double?, int8: Double?)] = [:]
        // The int8 dots' rate with k f32 steps per 8 of them, for each k that the benchmarked types'
        // prompt tiles take on the tier: the bound of such a type (docs/PERFORMANCE.md), as a
        // fraction of the ceiling.
        var scaledBounds: [KernelTier: [Int: Double]] = [:]
        for tier in tiers {
            guard let table = KernelTable(tier: tier) else { continue }
            let int8 = table.computePeak(.int8Dot)
            ceilings[tier] = (table.computePeak(.f32FMA), int8)
            guard let int8 else { continue }
            for steps in Set(types.compactMap(table.promptF32Steps)) {
                if let rate = table.computePeak(.int8DotWithF32Steps(steps)) { scaledBounds[tier, default: [:]][steps] = rate / int8 }
            }
        }
        if log {
            for (n, gbps) in bandwidth.sorted(by: { $0.key < $1.key }) {
                print(String(format: "streaming read, %d thread%@: %.1f GB/s", n, n == 1 ? "" : "s", gbps))
            }
            print(String(format: "thread pool dispatch (%d threads, beyond the work): %.2f µs median", threads, dispatch))
            for tier in tiers {
                guard let (f32, int8) = ceilings[tier], let f32, let int8 else { continue }
                print(String(format: "compute ceiling, %@: f32 FMA %.1f GFLOP/s, int8 dot %.1f GOP/s per core (× %d threads)",
                             tier.rawValue, f32 / 1e9, int8 / 1e9, threads))
                if let bounds = scaledBounds[tier], !bounds.isEmpty {
                    let list = bounds.sorted { $0.key < $1.key }.map { String(format: "%d: %.1f%%", $0.key, $0.value * 100) }
                    print("  int8 dots with k f32 steps per 8 dots (a quantised type's scale work), of the ceiling: "
                          + list.joined(separator: ", "))
                }
            }
            print("kernel   tier       rows ×  cols batch thr       time     GB/s  GFLOP/s  of paired read GB/s  of compute ceiling  of its bound")
        }
        let probe = StreamProbe()
        var results: [JSONValue] = []
        for tier in tiers {
            guard let table = KernelTable(tier: tier) else { continue }
            for type in types {
                for shape in shapes {
                    guard shape.cols % type.blockElements == 0 else { continue }
                    let weights = BenchWeights(type: type, rows: shape.rows, cols: shape.cols, hot: hot)
                    for batch in batches {
                        let (seconds, paired) = weights.medianSeconds(table: table, batch: batch, probe: probe)
                        let gbps = Double(weights.matrixBytes) / seconds / 1e9
                        let gflops = 2 * Double(shape.rows * shape.cols * batch) / seconds / 1e9
                        let fraction = gbps / paired
                        let peak = WeightMatrix.quantizesActivations(type) ? ceilings[tier]?.int8 : ceilings[tier]?.f32
                        let computeFraction = peak.map { gflops * 1e9 / ($0 * Double(threads)) }
                        // Of the type's bound (its prompt tiles' f32 steps, measured above), for batched products.
                        let bound = batch > 1 ? table.promptF32Steps(type).flatMap { scaledBounds[tier]?[$0] } : nil
                        let boundFraction = bound.flatMap { bound in computeFraction.map { $0 / bound } }
                        if log {
                            let name = type.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                            let tierName = tier.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                            let compute = (computeFraction.map { String(format: "  %5.1f%%", $0 * 100) } ?? "")
                                + (boundFraction.map { String(format: "  %5.1f%%", $0 * 100) } ?? "")
                            print(String(format: "%@ %@ %6d × %5d %5d %3d %9.3f ms %7.2f %8.1f  %5.1f%% of %.1f", name, tierName,
                                         shape.rows, shape.cols, batch, threads, seconds * 1e3, gbps, gflops, fraction * 100, paired)
                                  + compute)
                        }
                        var result: [String: JSONValue] = [
                            "kernel": .string(type.name), "tier": .string(tier.rawValue), "rows": .int(Int64(shape.rows)),
                            "cols": .int(Int64(shape.cols)), "batch": .int(Int64(batch)), "threads": .int(Int64(threads)),
                            "seconds": .double(seconds), "gbps": .double(gbps), "gflops": .double(gflops),
                            "bandwidth_fraction": .double(fraction), "paired_read_gbps": .double(paired),
                        ]
                        if let computeFraction { result["compute_fraction"] = .double(computeFraction) }
                        if let boundFraction { result["bound_fraction"] = .double(boundFraction) }
                        results.append(.object(result))
                    }
                }
            }
        }
        return .object([
            "read_bandwidth_gbps": .double(bandwidth[threads]!),
            "read_bandwidth_gbps_by_threads": .object(Dictionary(uniqueKeysWithValues: bandwidth.map { (String($0.key), .double($0.value)) })),
            "threads": .int(Int64(threads)),
            "pool_dispatch_microseconds": .double(dispatch),
            "compute_peak_per_core": .object(Dictionary(uniqueKeysWithValues: ceilings.map { tier, peaks in
                (tier.rawValue, JSONValue.object([
                    "f32_fma_gflops": peaks.f32.map { .double($0 / 1e9) } ?? .null,
                    "int8_dot_gops": peaks.int8.map { .double($0 / 1e9) } ?? .null,
                    "int8_dot_fraction_with_f32_steps_per_8_dots": .object(Dictionary(uniqueKeysWithValues:
                        (scaledBounds[tier] ?? [:]).map { (String($0.key), JSONValue.double($0.value)) })),
                ]))
            })),
            "results": .array(results),
        ])
    }

    /// What one parallel call costs beyond its work, back to back as decode issues them (~200
    /// products per token): `threads` tasks of 2 µs each (so every thread must take part), minus
    /// the 2 µs. Empty tasks would measure less: the caller would run them all before a worker woke.
    private func dispatchMicroseconds() -> Double {
        let work = 2e-6
        var times: [Double] = []
        for _ in 0..<20_000 {
            times.append(timed {
                Kernels.parallelFor(threads) { _ in
                    let start = DispatchTime.now().uptimeNanoseconds
                    while Double(DispatchTime.now().uptimeNanoseconds - start) < work * 1e9 {}
                }
            })
        }
        return (median(times) - work) * 1e6
    }

    /// Median of 15 streaming reads of 512 MiB at `threads` threads.
    private func measureBandwidth(threads: Int) -> Double {
        Kernels.setThreads(threads)
        let probe = StreamProbe(bytes: 512 << 20)
        return median((0..<15).map { _ in probe.sample() })
    }
}

extension KernelBenchmark {
    /// `body` in rounds, each round one streaming-read sample and then calls for ≥ 10 ms; at
    /// least 5 rounds and 0.3 s of calls, after one warm-up call (page faults, pool start,
    /// scratch growth). Returns the median call time and the median streaming GB/s of the same
    /// rounds.
    static func pairedMedian(probe: StreamProbe, _ body: () -> Void) -> (seconds: Double, readGBps: Double) {
        body()
        var times: [Double] = [], reads: [Double] = []
        var total = 0.0
        while reads.count < 5 || total < 0.3 {
            reads.append(probe.sample())
            var round = 0.0
            repeat {
                let t = timed(body)
                times.append(t)
                round += t
            } while round < 0.01
            total += round
        }
        return (median(times), median(reads))
    }
}

/// The streaming-read probe: a sum over a buffer four times the L3, in the fastest tier's loop,
/// on the pool's current threads. `sample()` returns GB/s.
final class StreamProbe {
    let bytes: Int
    let floats: UnsafeMutablePointer<Float>
    private var sink: Float = 0

    init(bytes: Int = 128 << 20) {
        self.bytes = bytes
        floats = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096).bindMemory(to: Float.self, capacity: bytes / 4)
        floats.initialize(repeating: 1, count: bytes / 4)
    }

    deinit { floats.deallocate() }

    func sample() -> Double {
        let seconds = timed { sink += Kernels.table.streamRead(floats, bytes: bytes) }
        precondition(sink > 0)
        return Double(bytes) / seconds / 1e9
    }
}

/// Copies of one random weight matrix, enough to rotate through `KernelBenchmark.rotationBytes`
/// (one copy when hot).
private final class BenchWeights {
    let matrixBytes: Int
    let stride: Int
    let copies: Int
    let storage: UnsafeMutableRawPointer
    let type: ElementType
    let rows: Int
    let cols: Int
    private var next = 0

    init(type: ElementType, rows: Int, cols: Int, hot: Bool) {
        self.type = type
        self.rows = rows
        self.cols = cols
        matrixBytes = try! type.byteCount(shape: [rows, cols])
        stride = (matrixBytes + 4095) / 4096 * 4096
        copies = hot ? 1 : max(2, (KernelBenchmark.rotationBytes + stride - 1) / stride)
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

    /// Products in paired rounds (`KernelBenchmark.pairedMedian`), each on the next copy.
    func medianSeconds(table: KernelTable, batch: Int, probe: StreamProbe) -> (seconds: Double, readGBps: Double) {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: batch * cols)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: batch * rows)
        defer { x.deallocate(); y.deallocate() }
        var random = SplitMix(seed: 7)
        for i in 0..<(batch * cols) { x[i] = Float(Int(random.next() % 2001) - 1000) / 500 }
        let product = { [self] in
            table.matmul(WeightMatrix(type: type, rows: rows, cols: cols, data: storage + next * stride), x, batch: batch, y)
            next = (next + 1) % copies
        }
        return KernelBenchmark.pairedMedian(probe: probe, product)
    }
}

private func timed(_ body: () -> Void) -> Double {
    let start = DispatchTime.now()
    body()
    return seconds(since: start)
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
