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
        try Self.writeSparseSafetensors(source, names: (0..<16).map { "blk.\($0).weight" }, side: 4096)  // 16 × 64 MiB = 1 GiB
        let kib = try Self.peakKiB(["convert", source], output: "gguf", directory: directory)
        #expect(kib < 512 << 10, "peak RSS \(kib >> 10) MiB converting a 1 GiB model")
    }

    /// `kiln` with `arguments` and `-o` a file of extension `output`; returns its peak RSS in
    /// KiB. The output goes to tmpfs, which keeps the disk out of it (its pages are not the
    /// process's RSS either way).
    static func peakKiB(_ arguments: [String], output extension: String, directory: TemporaryDirectory) throws -> Int {
        let outputDirectory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : directory.path
        let output = outputDirectory + "/kiln-memory-test-\(getpid()).\(`extension`)"
        defer { unlink(output) }
        let result = try run(timeTool, ["-f", "maxrss_kib=%M", Repository.executable("kiln")] + arguments + ["-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss_kib=") })
        return try #require(Int(line.dropFirst("maxrss_kib=".count)))
    }

    /// A safetensors file of `side` × `side` f32 tensors named `names`, all zeros and sparse (a
    /// header and a hole), so a large model costs no disk.
    static func writeSparseSafetensors(_ path: String, names: [String], side: Int) throws {
        let bytes = side * side * 4
        let entries = names.enumerated().map { i, name in
            #""\#(name)":{"dtype":"F32","shape":[\#(side),\#(side)],"data_offsets":[\#(i * bytes),\#((i + 1) * bytes)]}"#
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (8 + header.count) % 64) % 64)
        try writeFile(path, withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header)
        #expect(truncate(path, off_t(8 + header.count + names.count * bytes)) == 0)
    }

    /// Quantising reads each source tensor once: its pages are dropped after it is quantised (or
    /// written as it is), and the provenance hash of the source drops them as it goes. Either
    /// one missing keeps the whole 256 MiB source resident.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: timeTool), "needs /usr/bin/time"),
          .disabled(if: Sanitizer.isActive, "a sanitizer multiplies resident memory"))
    func quantisingKeepsTheSourceOutOfMemory() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors")
        try Self.writeSparseSafetensors(source, names: (0..<16).map { "blk.\($0).ffn_up.weight" }, side: 2048)  // 16 × 16 MiB = 256 MiB
        let kib = try Self.peakKiB(["quantize", source, "--scheme", "q8", "--method", "rtn"], output: "kiln", directory: directory)
        #expect(kib < 160 << 10, "peak RSS \(kib >> 10) MiB quantising a 256 MiB model")
    }
}
