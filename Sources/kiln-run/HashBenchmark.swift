import Foundation
import Kiln
import KilnCommandLine

/// One core's throughput of the two hashes Kiln computes over whole models: SHA-256 (the
/// provenance of each source file, beside every `.kiln` conversion) and XXH64 (every tensor's
/// checksum, written on conversion and checked by `kiln verify`). In memory, best of several
/// passes over `megabytes` MiB, so the figure is the hash's and not the disk's.
struct HashBenchmark {
    let megabytes: Int
    let log: Bool

    func run() throws -> JSONValue {
        let buffer = try OwnedBytes(count: megabytes << 20)
        var random = SplitMix(seed: 3)
        let words = buffer.mutableBuffer.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = random.next() }
        let (sha, xxh) = buffer.withBytes { bytes in
            var sink: UInt64 = 0
            let sha = bestSeconds(passes: 3) { sink ^= UInt64(SHA256.hex(bytes).utf8.count) }
            let xxh = bestSeconds(passes: 7) { sink ^= XXH64.hash(bytes) }
            withExtendedLifetime(sink) {}
            return (sha, xxh)
        }
        let shaRate = Double(buffer.count) / sha / 1e9
        let xxhRate = Double(buffer.count) / xxh / 1e9
        if log {
            print(String(format: "SHA-256 (provenance), one core: %.2f GB/s (%d MiB, best of 3)", shaRate, megabytes))
            print(String(format: "XXH64 (checksums), one core:    %.2f GB/s (%d MiB, best of 7)", xxhRate, megabytes))
        }
        return .object([
            "bytes": .int(Int64(buffer.count)),
            "sha256_gigabytes_per_second": .double(shaRate),
            "xxh64_gigabytes_per_second": .double(xxhRate),
        ])
    }

    private func bestSeconds(passes: Int, _ body: () -> Void) -> Double {
        body()  // warm-up: faults the buffer's pages in and settles the clock
        var best = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now()
            body()
            best = min(best, seconds(since: start))
        }
        return best
    }
}
