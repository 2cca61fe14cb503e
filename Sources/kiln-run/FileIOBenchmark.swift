import Foundation
import Kiln
import KilnCommandLine

/// Opening must cost the same for any file size (mmap + header parse); verify is reported in GB/s.
struct FileIOBenchmark {
    let directory: String
    let largeMiB: Int
    let log: Bool

    func run() throws -> JSONValue {
        let small = try makeFile("kiln-bench-10MiB.kiln", megabytes: 10)
        let large = try makeFile("kiln-bench-\(largeMiB)MiB.kiln", megabytes: largeMiB)
        defer {
            try? FileManager.default.removeItem(atPath: small)
            try? FileManager.default.removeItem(atPath: large)
        }
        let smallOpen = try medianOpenSeconds(small)
        let largeOpen = try medianOpenSeconds(large)
        let file = try KilnFile(path: large)
        // Warm the page cache once so the figure measures hashing, not the disk.
        _ = file.verify()
        let start = DispatchTime.now()
        let report = file.verify()
        let verifySeconds = seconds(since: start)
        let rate = Double(report.bytesChecked) / verifySeconds / 1e9
        if log {
            print(String(format: "open 10 MiB file:   %.1f µs (median of 201)", smallOpen * 1e6))
            print(String(format: "open %d MiB file: %.1f µs (median of 201); ratio %.2f×", largeMiB, largeOpen * 1e6, largeOpen / smallOpen))
            print(String(format: "verify %d MiB (page cache warm, %d threads): %.3f s, %.2f GB/s",
                         largeMiB, ProcessInfo.processInfo.activeProcessorCount, verifySeconds, rate))
        }
        return .object([
            "open_small_seconds": .double(smallOpen), "open_large_seconds": .double(largeOpen),
            "small_bytes": .int(Int64(10 << 20)), "large_bytes": .int(Int64(largeMiB) << 20),
            "open_ratio": .double(largeOpen / smallOpen),
            "verify_seconds": .double(verifySeconds), "verify_gigabytes_per_second": .double(rate),
            "sound": .bool(report.isSound),
        ])
    }

    /// A model-like file: 2 MiB tensors (f16 matrices) with a metadata block the size a real
    /// tokenizer gives, so the header is realistic.
    private func makeFile(_ name: String, megabytes: Int) throws -> String {
        let path = directory + "/" + name
        let writer = try KilnWriter(path: path)
        writer.metadata = [
            "general.architecture": "llama",
            "tokenizer.tokens": .array((0..<49_152).map { .string("token\($0)") }),
        ]
        let tensorBytes = 2 << 20
        var chunk = [UInt16](repeating: 0, count: tensorBytes / 2)
        var random = SplitMix(seed: 1)
        for i in chunk.indices { chunk[i] = UInt16(truncatingIfNeeded: random.next() & 0x3BFF) }
        for index in 0..<(megabytes * (1 << 20) / tensorBytes) {
            try chunk.withUnsafeBytes {
                _ = try writer.add(name: "blk.\(index / 7).w\(index % 7)", type: .f16, shape: [1024, 1024], bytes: $0)
            }
        }
        try writer.finish()
        return path
    }

    private func medianOpenSeconds(_ path: String) throws -> Double {
        var times: [Double] = []
        for _ in 0..<201 {
            let start = DispatchTime.now()
            let file = try KilnFile(path: path)
            times.append(seconds(since: start))
            withExtendedLifetime(file) {}
        }
        return times.sorted()[times.count / 2]
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
