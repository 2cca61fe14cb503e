import Dispatch
import Foundation
import KilnCore

/// Compares one matched pair of canonical tensors of the same shape, a chunk of elements at a
/// time, on a few threads. Memory is a few chunk-sized scratch buffers per thread; mapped
/// pages are given back once compared, so the resident size stays bounded on any model size.
struct TensorPairComparer {
    let a: CanonicalTensorSource
    let b: CanonicalTensorSource
    let tolerance: TensorComparison.Tolerance
    let threads: Int
    /// Elements per chunk (rounded to what both sides' blocks and rows allow).
    let chunkElements: Int
    /// Called with bytes (of both sides) finished, from any thread.
    let progress: @Sendable (Int) -> Void

    private var elements: Int { a.tensor.elementCount }

    /// Chunk boundaries: multiples of both sides' granules, about `chunkElements` long.
    private var chunk: Int {
        let unit = leastCommonMultiple(a.granule, b.granule)
        return max(unit, chunkElements / unit * unit)
    }

    private var chunkCount: Int { elements == 0 ? 0 : (elements + chunk - 1) / chunk }

    private func range(_ index: Int) -> Range<Int> {
        index * chunk..<min((index + 1) * chunk, elements)
    }

    /// Whether both tensors hold the same bytes (same element type required). Stops at the
    /// first differing chunk.
    func bytesEqual() throws -> Bool {
        precondition(a.type == b.type)
        let differences = LockedCounter()
        let chunkBytes = (a.byteCount(chunk) + 63) & ~63
        try forEachChunk(scratchBytes: 2 * chunkBytes) { index, scratch in
            guard differences.value == 0 else { return false }
            let r = range(index)
            let x = a.bytes(r, scratch: scratch), y = b.bytes(r, scratch: scratch + chunkBytes)
            if memcmp(x.baseAddress!, y.baseAddress!, x.count) != 0 {
                differences.add(1)
                return false
            }
            progress(x.count + y.count)
            return true
        }
        return differences.value == 0
    }

    /// The statistics over every element, compared in `Double` whatever the two types.
    func statistics() throws -> TensorComparison {
        let n = chunk
        // Per-chunk results, merged in chunk order afterwards so the sums do not depend on
        // which thread took which chunk: the same inputs always give the same bits.
        let results = ChunkResults(count: chunkCount, tolerance: tolerance)
        // Two f32/f16/bf16 sides compare as Float (exact for them); anything else as Double.
        let asFloats = ValueDecoding.isFloatExact(a.type) && ValueDecoding.isFloatExact(b.type)
        // Scratch layout, each part 64-byte aligned: A's gathered bytes, B's, A's values, B's
        // values (Float or Double), and Floats for block decoding.
        func aligned(_ bytes: Int) -> Int { (bytes + 63) & ~63 }
        let valueBytes = aligned(n * (asFloats ? MemoryLayout<Float>.stride : MemoryLayout<Double>.stride))
        let offsetB = aligned(a.byteCount(n)), offsetValuesA = offsetB + aligned(b.byteCount(n))
        let offsetValuesB = offsetValuesA + valueBytes, offsetFloats = offsetValuesB + valueBytes
        let scratchBytes = offsetFloats + n * MemoryLayout<Float>.stride
        try forEachChunk(scratchBytes: scratchBytes) { index, scratch in
            let r = range(index)
            let x = a.bytes(r, scratch: scratch), y = b.bytes(r, scratch: scratch + offsetB)
            var comparison = TensorComparison(tolerance: tolerance)
            if asFloats {
                let valuesA = ValueDecoding.floats(a.type, x.baseAddress!, count: r.count,
                                                   scratch: (scratch + offsetValuesA).bindMemory(to: Float.self, capacity: n))
                let valuesB = ValueDecoding.floats(b.type, y.baseAddress!, count: r.count,
                                                   scratch: (scratch + offsetValuesB).bindMemory(to: Float.self, capacity: n))
                comparison.add(UnsafeBufferPointer(start: valuesA, count: r.count), UnsafeBufferPointer(start: valuesB, count: r.count))
            } else {
                let valuesA = (scratch + offsetValuesA).bindMemory(to: Double.self, capacity: n)
                let valuesB = (scratch + offsetValuesB).bindMemory(to: Double.self, capacity: n)
                let floats = (scratch + offsetFloats).bindMemory(to: Float.self, capacity: n)
                ValueDecoding.doubles(a.type, x.baseAddress!, count: r.count, into: valuesA, floats: floats)
                ValueDecoding.doubles(b.type, y.baseAddress!, count: r.count, into: valuesB, floats: floats)
                comparison.add(UnsafeBufferPointer(start: valuesA, count: r.count), UnsafeBufferPointer(start: valuesB, count: r.count))
            }
            results.store(comparison, at: index)
            progress(x.count + y.count)
            return true
        }
        return results.merged()
    }

    /// Runs `body(chunk index, scratch)` over every chunk, in increasing order, on up to
    /// `threads` threads, each with its own 64-byte-aligned scratch of `scratchBytes`. A body
    /// returning false stops its thread. Mapped pages are given back as the chunks below every
    /// thread's current one are done, and all of them at the end.
    private func forEachChunk(scratchBytes: Int, _ body: (Int, UnsafeMutableRawPointer) -> Bool) throws {
        let count = chunkCount
        guard count > 0 else { return }
        let workers = max(1, min(threads, count))
        // Allocated before any thread starts, so a refusal is an error rather than a chunk skipped.
        let scratches = try (0..<workers).map { _ in try OwnedBytes(count: scratchBytes, for: "diff scratch") }
        // At most ~8 MiB per side read ahead of what can be released.
        let frontier = ChunkFrontier(workers: workers, maxLead: (8 << 20) / max(1, a.byteCount(chunk), b.byteCount(chunk)))
        withoutActuallyEscaping(body) { body in
            let work = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let scratch = scratches[worker]
                withExtendedLifetime(scratch) {
                    while true {
                        let index = frontier.take(worker)
                        guard index < count, work.value(index, scratch.pointer) else {
                            frontier.stop(worker)
                            return
                        }
                        if let done = frontier.finish(worker) {
                            let elements = done.lowerBound * chunk..<min(done.upperBound * chunk, elements)
                            a.release(elements)
                            b.release(elements)
                        }
                    }
                }
            }
        }
        a.releaseAll()
        b.releaseAll()
    }
}

/// Hands out chunk indices in order and tracks which are in flight, so that everything below the
/// lowest one in flight (finished by every thread) can have its pages released exactly once.
/// A thread may run at most `maxLead` chunks ahead of the lowest one in flight: when another
/// thread is descheduled (a busy machine), the pages read meanwhile could not be released, and
/// would pile up without that limit.
private final class ChunkFrontier: @unchecked Sendable {
    // Sendable: all state is guarded by `condition`.
    private let condition = NSCondition()
    private let maxLead: Int
    private var next = 0
    /// The chunk each worker is on; Int.max when it has none.
    private var current: [Int]
    /// Chunks below this have been handed to `finish`'s caller for release.
    private var released = 0

    init(workers: Int, maxLead: Int) {
        current = Array(repeating: .max, count: workers)
        self.maxLead = max(maxLead, workers + 1)
    }

    private var lowest: Int { min(current.min() ?? next, next) }

    func take(_ worker: Int) -> Int {
        condition.lock(); defer { condition.unlock() }
        while next - lowest >= maxLead { condition.wait() }
        current[worker] = next
        next += 1
        return current[worker]
    }

    func stop(_ worker: Int) {
        condition.lock(); defer { condition.unlock() }
        current[worker] = .max
        condition.broadcast()
    }

    /// Marks the worker's chunk done; returns chunks that no thread still reads and that were
    /// not returned before.
    func finish(_ worker: Int) -> Range<Int>? {
        condition.lock(); defer { condition.unlock() }
        current[worker] = .max
        condition.broadcast()
        let low = lowest
        guard low > released else { return nil }
        defer { released = low }
        return released..<low
    }
}

/// A value handed to other threads whose safety the caller guarantees (disjoint chunks).
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

private final class ChunkResults: @unchecked Sendable {
    // Sendable: each slot is written by one thread, under `lock`, and read after all finish.
    private let lock = NSLock()
    private var slots: [TensorComparison]
    private let tolerance: TensorComparison.Tolerance

    init(count: Int, tolerance: TensorComparison.Tolerance) {
        slots = Array(repeating: TensorComparison(tolerance: tolerance), count: count)
        self.tolerance = tolerance
    }

    func store(_ comparison: TensorComparison, at index: Int) {
        lock.lock(); slots[index] = comparison; lock.unlock()
    }

    func merged() -> TensorComparison {
        lock.lock(); defer { lock.unlock() }
        return slots.reduce(into: TensorComparison(tolerance: tolerance)) { $0.merge($1) }
    }
}
