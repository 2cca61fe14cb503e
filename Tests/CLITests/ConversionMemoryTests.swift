import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TestSupport
import Testing

/// Converting streams: peak memory is a few tensors, not the model. A 1 GiB safetensors file
/// (sparse, so it costs no disk) converts to GGUF in well under 1 GiB of RSS — without
/// dropping each tensor's source pages after writing it, the mapping alone would hold 1 GiB.
/// Needs /usr/bin/time (`apt-get install time`) to read the child's peak RSS.
struct ConversionMemoryTests {
    static let timeTool = "/usr/bin/time"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: timeTool), "needs /usr/bin/time"),
          .disabled(if: Sanitizer.isActive, "a sanitizer multiplies resident memory"))
    func peakMemoryIsBoundedByTensorsNotTheModel() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors")
        let tensors = 16, side = 4096, bytes = side * side * 4  // 16 × 64 MiB = 1 GiB
        var entries: [String] = []
        for i in 0..<tensors {
            entries.append(#""blk.\#(i).weight":{"dtype":"F32","shape":[\#(side),\#(side)],"data_offsets":[\#(i * bytes),\#((i + 1) * bytes)]}"#)
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (8 + header.count) % 64) % 64)
        try writeFile(source, withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header)
        #expect(truncate(source, off_t(8 + header.count + tensors * bytes)) == 0)

        // tmpfs output keeps the disk out of it; its pages are not the process's RSS either way.
        let outputDirectory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : directory.path
        let output = outputDirectory + "/kiln-memory-test-\(getpid()).gguf"
        defer { unlink(output) }
        let result = try run(Self.timeTool, ["-f", "maxrss_kib=%M", Repository.executable("kiln"), "convert", source, "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss_kib=") })
        let kib = try #require(Int(line.dropFirst("maxrss_kib=".count)))
        #expect(kib < 512 << 10, "peak RSS \(kib >> 10) MiB converting a 1 GiB model")
    }

    /// Quantising reads each source tensor once: its pages are dropped after it is quantised (or
    /// written as it is), and the provenance hash of the source drops them as it goes. Either
    /// one missing keeps the whole 256 MiB source resident.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: timeTool), "needs /usr/bin/time"),
          .disabled(if: Sanitizer.isActive, "a sanitizer multiplies resident memory"))
    func quantisingKeepsTheSourceOutOfMemory() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors")
        let tensors = 16, side = 2048, bytes = side * side * 4  // 16 × 16 MiB = 256 MiB
        var entries: [String] = []
        for i in 0..<tensors {
            entries.append(#""blk.\#(i).ffn_up.weight":{"dtype":"F32","shape":[\#(side),\#(side)],"data_offsets":[\#(i * bytes),\#((i + 1) * bytes)]}"#)
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (8 + header.count) % 64) % 64)
        try writeFile(source, withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header)
        #expect(truncate(source, off_t(8 + header.count + tensors * bytes)) == 0)

        let outputDirectory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : directory.path
        let output = outputDirectory + "/kiln-memory-test-\(getpid()).kiln"
        defer { unlink(output) }
        let result = try run(Self.timeTool, ["-f", "maxrss_kib=%M", Repository.executable("kiln"), "quantize", source, "-o", output,
                                             "--scheme", "q8", "--method", "rtn"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss_kib=") })
        let kib = try #require(Int(line.dropFirst("maxrss_kib=".count)))
        #expect(kib < 160 << 10, "peak RSS \(kib >> 10) MiB quantising a 256 MiB model")
    }
}
