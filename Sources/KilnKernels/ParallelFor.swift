import CKilnKernels

extension Kernels {
    /// Runs `body(i)` for every `i < count` on the shared pool — the caller included — and
    /// returns when all have finished: for work the products do not cover (attention heads, say).
    /// `body` runs on several threads at once, so it must only write state that no other index
    /// touches. When another thread is using the pool, every index runs on the calling thread.
    /// `body(b0, b1)` over rows `0 ..< rows` in one contiguous share per pool thread (row-wise
    /// steps of a batch: a task per row cost a claim of the pool's shared line per ~100 ns of work).
    package static func eachRowShare(_ rows: Int, _ body: (Int, Int) -> Void) {
        guard rows > 1 else { if rows == 1 { body(0, 1) }; return }
        let tasks = min(rows, threads)
        parallelFor(tasks) { task in body(task * rows / tasks, (task + 1) * rows / tasks) }
    }

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
