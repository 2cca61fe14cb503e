import Dispatch
import Foundation

/// Runs jobs in order on a thread of its own, behind the caller: `submit` hands a job over and
/// returns at once, unless the jobs not yet done already hold `limit` bytes; then it waits.
///
/// The quantiser writes each tensor through it. Interleaving a quantised tensor's rows, hashing
/// and writing it are serial work; done between tensors they left a core idle while the next
/// tensor's parallel quantisation waited. And a write can stall on the disk for tens of
/// milliseconds (the page cache's dirty limit, the writeback the writer starts), which a queue
/// of a few tensors absorbs. The limit bounds the memory the queued tensors hold.
final class WriteBehind: @unchecked Sendable {
    private let queue = DispatchQueue(label: "kiln.write-behind")
    private let state = NSCondition()
    private let limit: Int
    // Guarded by `state`.
    private var pendingBytes = 0, pendingJobs = 0
    private var failure: Error?

    /// A queue whose waiting jobs hold at most `limit` bytes (one job of any size is always let in).
    init(limit: Int = 64 << 20) {
        self.limit = limit
    }

    /// Queues `job`, which holds `bytes` until it is done; first waits while the queue is full,
    /// and rethrows the error of any job before.
    func submit(bytes: Int, _ job: @escaping () throws -> Void) throws {
        state.lock()
        while failure == nil && pendingJobs > 0 && pendingBytes + bytes > limit { state.wait() }
        if let failure {
            state.unlock()
            throw failure
        }
        pendingBytes += bytes
        pendingJobs += 1
        state.unlock()
        let work = UncheckedSendable(job)
        queue.async { [self] in
            state.lock()
            let failed = failure != nil
            state.unlock()
            var error: Error?
            if !failed {
                do { try work.value() } catch let thrown { error = thrown }
            }
            state.lock()
            if failure == nil, let error { failure = error }
            pendingBytes -= bytes
            pendingJobs -= 1
            state.broadcast()
            state.unlock()
        }
    }

    /// Waits for every job; rethrows the first error any job threw.
    func finish() throws {
        state.lock()
        defer { state.unlock() }
        while pendingJobs > 0 { state.wait() }
        if let failure { throw failure }
    }
}
