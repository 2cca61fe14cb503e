import KilnCore
import KilnFormats
import KilnKernels

/// Whether a context length (KV cache positions) can be used with a model, decided before anything
/// is allocated. The length comes from users (`--ctx`) and the model's dimensions from its file,
/// so the cache size is computed with overflow checks: `--ctx 9223372036854775807` used to trap
/// on the multiplication and `--ctx 100000000` to abort inside the allocator.
enum ContextLimits {
    /// Bytes of the KV cache for `positions`: keys and values, per layer (a sliding-window
    /// layer's ring, `KVCache.capacities`, rounded up to whole key blocks of `KVLayout`), KV head
    /// and head dimension, f32 or f16.
    static func kvCacheBytes(_ c: ModelConfig, positions: Int, halfPrecision: Bool) throws -> Int {
        var total = 0
        for capacity in KVCache.capacities(c, positions: positions) {
            var bytes = 2 * (halfPrecision ? 2 : 4)
            // Past Int.max − 15 the multiplication below reports the overflow.
            let slots = capacity > Int.max - KVLayout.blockSlots ? capacity : KVLayout.paddedSlots(capacity)
            for factor in [slots, c.kvHeads, c.headDim] {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: factor)
                guard !overflow else {
                    throw KilnError(.usage, "a context of \(positions) positions would need a KV cache of more than \(Int.max) bytes")
                }
                bytes = product
            }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow else {
                throw KilnError(.usage, "a context of \(positions) positions would need a KV cache of more than \(Int.max) bytes")
            }
            total = sum
        }
        return total
    }

    /// Throws a usage error when `positions` is not positive, exceeds the context the model was
    /// trained for (GPT-2's learned positions have no row past it; RoPE models degrade), or needs
    /// more memory than the machine has. `physicalMemory` is a parameter so tests can pin it.
    static func check(_ c: ModelConfig, positions: Int, halfPrecision: Bool,
                      physicalMemory: UInt64 = Allocation.physicalMemory) throws {
        guard positions >= 1 else {
            throw KilnError(.usage, "the context must hold at least 1 position, not \(positions)")
        }
        guard positions <= c.context else {
            throw KilnError(.usage, "a context of \(positions) positions is more than the model's \(c.context) (the length it was trained for); use --ctx \(c.context) or less")
        }
        let kv = try kvCacheBytes(c, positions: positions, halfPrecision: halfPrecision)
        // RoPE's table: a cosine and a sine per rotary pair and position, f32.
        let (rope, overflow) = positions.multipliedReportingOverflow(by: max(c.ropeDimensions, 0) * 4)
        let total = overflow ? UInt64.max : UInt64(kv) &+ UInt64(rope)
        guard total <= physicalMemory else {
            throw KilnError(.usage, "a context of \(positions) positions needs \(Allocation.describe(Int(clamping: total))) for the KV cache, more than this machine's \(Allocation.describe(Int(clamping: physicalMemory))) of memory; use a smaller --ctx\(halfPrecision ? "" : " or --kv-cache f16")")
        }
    }
}
