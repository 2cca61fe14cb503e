import CKilnKernels

extension Kernels {
    /// Runs `body(i)` for every `i < count` on the shared pool — the caller included — and
    /// returns when all have finished: for work the products do not cover (attention heads, say).
    /// `body` runs on several threads at once, so it must only write state that no other index
    /// touches. When another thread is using the pool, every index runs on the calling thread.
    package static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        withoutActuallyEscaping(body) { body in
            var closure = body
            withUnsafeMutablePointer(to: &closure) { context in
                kiln_pool_run({ context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, context, Int64(count))
            }
        }
    }
}
