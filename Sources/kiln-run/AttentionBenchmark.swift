import Foundation
import Kiln
import KilnCommandLine

/// `kiln-run bench --attention`: one layer of a decode step's attention (each sequence's query
/// row against its own KV cache, every query head of a KV head's group together) on every tier,
/// at SmolLM2-135M's and Llama-3-8B's head shapes, 128 and 2,048 cached positions, 1 and 8
/// sequences, f16 and f32 caches.
///
/// Decode attention reads every cached key and value once per layer and token, so it is judged
/// as the matrix products are: the KV bytes it reads per second against this machine's streaming
/// read, sampled in the same rounds (`KernelBenchmark.pairedMedian`). Caches are cold: each call
/// reads another layer's copy, rotating over at least 256 MiB, as a long context's layers do
/// where the last-level cache cannot hold them. With `hot`, every call reads the same copy: the
/// kernel's own speed, what a small model whose caches stay in L2 or L3 sees.
struct AttentionBenchmark {
    var tiers: [KernelTier]
    var threads: Int
    var hot = false
    var log: Bool

    struct HeadShape {
        let model: String
        let heads: Int
        let kvHeads: Int
        let headDim: Int
    }

    static let shapes = [HeadShape(model: "SmolLM2-135M", heads: 9, kvHeads: 3, headDim: 64),
                         HeadShape(model: "Llama-3-8B", heads: 32, kvHeads: 8, headDim: 128)]
    static let contexts = [128, 2048]
    static let sequenceCounts = [1, 8]

    func run() -> JSONValue {
        Kernels.setThreads(threads)
        let probe = StreamProbe()
        if log { print("attention tier       heads   context seqs cache       time     GB/s  of paired read GB/s") }
        var results: [JSONValue] = []
        for tier in tiers {
            guard let table = KernelTable(tier: tier) else { continue }
            for shape in Self.shapes {
                for context in Self.contexts {
                    for sequences in Self.sequenceCounts {
                        for precision in [KVPrecision.f16, .f32] {
                            let caches = BenchCaches(shape: shape, context: context, sequences: sequences, precision: precision, hot: hot)
                            let (seconds, paired) = KernelBenchmark.pairedMedian(probe: probe) { caches.attend(table: table) }
                            let gbps = Double(caches.bytesRead) / seconds / 1e9
                            let cache = precision == .f16 ? "f16" : "f32"
                            if log {
                                let tierName = tier.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                                print(String(format: "%@ %@ %3d/%d×%-3d %7d %4d %@ %9.1f µs %7.2f  %5.1f%% of %.1f", shape.model.padding(toLength: 12, withPad: " ", startingAt: 0),
                                             tierName, shape.heads, shape.kvHeads, shape.headDim, context, sequences, cache,
                                             seconds * 1e6, gbps, gbps / paired * 100, paired))
                            }
                            results.append(.object([
                                "model": .string(shape.model), "tier": .string(tier.rawValue), "heads": .int(Int64(shape.heads)),
                                "kv_heads": .int(Int64(shape.kvHeads)), "head_dim": .int(Int64(shape.headDim)),
                                "context": .int(Int64(context)), "sequences": .int(Int64(sequences)), "cache": .string(cache),
                                "threads": .int(Int64(threads)), "seconds": .double(seconds), "gbps": .double(gbps),
                                "bandwidth_fraction": .double(gbps / paired), "paired_read_gbps": .double(paired),
                            ]))
                        }
                    }
                }
            }
        }
        return .object(["threads": .int(Int64(threads)), "hot": .bool(hot), "results": .array(results)])
    }
}

/// Copies of one layer's KV caches for `sequences` sequences, each holding `context` positions,
/// enough to rotate through `KernelBenchmark.rotationBytes` (one copy when hot), and the
/// queries of one decode row per sequence.
private final class BenchCaches {
    let shape: AttentionBenchmark.HeadShape
    let context: Int
    let sequences: Int
    let precision: KVPrecision
    /// Keys and values of the filled slots of one layer, all sequences: what one call reads.
    let bytesRead: Int
    private let headStride: Int  // elements per KV head
    private let cacheBytes: Int  // one sequence's keys (or values)
    private let stride: Int      // one copy: every sequence's keys, then values
    private let copies: Int
    private let storage: UnsafeMutableRawPointer
    private let queries: UnsafeMutablePointer<Float>
    private let out: UnsafeMutablePointer<Float>
    private var next = 0

    init(shape: AttentionBenchmark.HeadShape, context: Int, sequences: Int, precision: KVPrecision, hot: Bool) {
        self.shape = shape
        self.context = context
        self.sequences = sequences
        self.precision = precision
        let element = precision == .f16 ? 2 : 4
        headStride = KVLayout.paddedSlots(context) * shape.headDim
        cacheBytes = shape.kvHeads * headStride * element
        bytesRead = 2 * sequences * shape.kvHeads * context * shape.headDim * element
        stride = (2 * sequences * cacheBytes + 4095) / 4096 * 4096
        copies = hot ? 1 : max(2, (KernelBenchmark.rotationBytes + stride - 1) / stride)
        storage = UnsafeMutableRawPointer.allocate(byteCount: stride * copies, alignment: 4096)
        var random = SplitMix(seed: 11)
        // Keys and values in [−1, 1], so the scores and the softmax stay ordinary numbers.
        for i in 0..<(2 * sequences * cacheBytes / element) {
            let value = Float(Int(random.next() % 2001) - 1000) / 1000
            if precision == .f16 {
                (storage + 2 * i).storeBytes(of: HalfPrecision.halfFromFloat(value), as: UInt16.self)
            } else {
                (storage + 4 * i).storeBytes(of: value, as: Float.self)
            }
        }
        for c in 1..<copies { (storage + c * stride).copyMemory(from: storage, byteCount: 2 * sequences * cacheBytes) }
        let width = sequences * shape.heads * shape.headDim
        queries = .allocate(capacity: width)
        out = .allocate(capacity: width)
        for i in 0..<width { queries[i] = Float(Int(random.next() % 2001) - 1000) / 1000 }
    }

    deinit {
        storage.deallocate()
        queries.deallocate()
        out.deallocate()
    }

    /// One layer's decode attention for every sequence, on the next copy.
    func attend(table: KernelTable) {
        let copy = storage + next * stride, width = shape.heads * shape.headDim
        let jobs = (0..<sequences).map { s in
            AttentionJob(queries: queries + s * width, out: out + s * width, queryStride: width,
                         keys: copy + s * cacheBytes, values: copy + (sequences + s) * cacheBytes, headStride: headStride,
                         slots: context, capacity: context, last: context - 1, rows: 1, base: context - 1, window: 0)
        }
        table.attention(jobs, heads: shape.heads, kvHeads: shape.kvHeads, headDim: shape.headDim, precision: precision,
                        scale: 1 / Float(shape.headDim).squareRoot())
        next = (next + 1) % copies
    }
}
