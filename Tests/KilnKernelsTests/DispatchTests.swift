import CKilnKernels
import Foundation
import KilnKernels
import Testing

/// Tier choice and the shared thread pool.
struct DispatchTests {
    @Test func everyMachineRunsReferenceAndPortable() {
        #expect(KernelTier.supported.prefix(2) == [.reference, .portable])
        #expect(KernelTier.supported.contains(Kernels.tier))
        #if arch(x86_64)
        #expect(!KernelTier.neon.isSupported)
        #elseif arch(arm64)
        #expect(KernelTier.neon.isSupported && !KernelTier.avx2.isSupported && !KernelTier.avxvnni.isSupported && !KernelTier.avx512.isSupported
                && !KernelTier.avx512vbmi.isSupported)
        #endif
    }

    @Test func environmentForcesATier() {
        var warnings: [String] = []
        let fastest = KernelTier.supported.last!
        #expect(KernelTier.select(environment: [:]) { warnings.append($0) } == fastest)
        #expect(KernelTier.select(environment: ["KILN_KERNEL_TIER": "reference"]) { warnings.append($0) } == .reference)
        #expect(KernelTier.select(environment: ["KILN_KERNEL_TIER": "Portable"]) { warnings.append($0) } == .portable)
        #expect(warnings.isEmpty)
        #expect(KernelTier.select(environment: ["KILN_KERNEL_TIER": "sse9"]) { warnings.append($0) } == fastest)
        #expect(warnings.count == 1)
        let unsupported = KernelTier.allCases.first { !$0.isSupported }
        if let unsupported {
            #expect(KernelTier.select(environment: ["KILN_KERNEL_TIER": unsupported.rawValue]) { warnings.append($0) } == fastest)
            #expect(warnings.count == 2)
        }
    }

    /// Every task of every job runs exactly once, across thousands of back-to-back jobs (the
    /// decode pattern) and with several threads submitting at once (the losers run inline).
    /// Each task increments its own slot, so a slot other than 1 means a task was lost or repeated.
    @Test func poolRunsEveryTaskExactlyOnce() async {
        await withTaskGroup(of: Bool.self) { group in
            for submitter in 0..<4 {
                group.addTask {
                    let task: kiln_task_fn = { context, index in
                        context!.assumingMemoryBound(to: Int.self)[Int(index)] += 1
                    }
                    var ok = true
                    let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
                    defer { counts.deallocate() }
                    for job in 0..<2000 {
                        let n = 1 + (job * 7 + submitter) % 37
                        counts.initialize(repeating: 0, count: n)
                        kiln_pool_run(task, counts, Int64(n))
                        ok = ok && (0..<n).allSatisfy { counts[$0] == 1 }
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
    }

    @Test func parallelForVisitsEveryIndexOnce() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
        defer { counts.deallocate() }
        for n in [0, 1, 2, 7, 1000] {
            counts.initialize(repeating: 0, count: 1000)
            Kernels.parallelFor(n) { counts[$0] += 1 }
            #expect((0..<1000).allSatisfy { counts[$0] == ($0 < n ? 1 : 0) }, "n = \(n)")
        }
    }

    /// The bandwidth probe reads every byte once: the sum of 2^20 + 96 ones (not a multiple of
    /// the chunking) is exact in f32 partial sums.
    @Test func streamReadSumsEverything() {
        let count = (1 << 20) + 96
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: count)
        for table in allTables where table.tier != .reference {
            #expect(table.streamRead(buffer, bytes: count * 4) == Float(count), "\(table.tier)")
        }
    }

    /// The thread count changed while other threads run jobs on the pool: every job still visits
    /// each index exactly once. Under Tools/sanitize.sh thread this is the pool's race test (TSan
    /// found `kiln_pool_run` reading the thread count while `kiln_pool_set_threads` wrote it).
    @Test func threadCountChangesWhileJobsRun() async {
        let initial = Kernels.threads
        defer { Kernels.setThreads(initial) }
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for n in [2, 1, 4, 3, 1, 2, 4] { Kernels.setThreads(n) }
                return true
            }
            for _ in 0..<3 {
                group.addTask {
                    let count = 500
                    let counts = UnsafeMutablePointer<Int>.allocate(capacity: count)
                    defer { counts.deallocate() }
                    for _ in 0..<40 {
                        counts.initialize(repeating: 0, count: count)
                        Kernels.parallelFor(count) { counts[$0] += 1 }
                        guard (0..<count).allSatisfy({ counts[$0] == 1 }) else { return false }
                    }
                    return true
                }
            }
            for await ok in group { #expect(ok) }
        }
    }

    @Test func threadCountIsSettable() {
        let initial = Kernels.threads
        defer { Kernels.setThreads(initial) }
        Kernels.setThreads(3)
        #expect(Kernels.threads == 3)
        Kernels.setThreads(0)
        #expect(Kernels.threads == 1)
    }
}
