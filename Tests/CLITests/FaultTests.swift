import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnCore
import TestSupport
import Testing

/// What the tools do when the world misbehaves: killed mid-write, out of disk, a destination
/// they may not write, a source cut short while they read it. Never a file under the final name
/// that is not complete, never temporary litter after the next run, never a signal death of
/// their own.
struct FaultTests {
    let kiln = Repository.executable("kiln")

    /// A sparse f32 safetensors file of `tensors` × side² zeros (no disk used for the data).
    static func sparseSafetensors(_ path: String, tensors: Int, side: Int) throws {
        let bytes = side * side * 4
        var entries: [String] = []
        for i in 0..<tensors {
            entries.append(#""blk.\#(i).weight":{"dtype":"F32","shape":[\#(side),\#(side)],"data_offsets":[\#(i * bytes),\#((i + 1) * bytes)]}"#)
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (8 + header.count) % 64) % 64)
        try writeFile(path, withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header)
        #expect(truncate(path, off_t(8 + header.count + tensors * bytes)) == 0)
    }

    static func temporaries(in directory: TemporaryDirectory) -> [String] {
        directory.contents.filter { $0.contains(".tmp-") }
    }

    /// Starts `arguments`, waits until its temporary output exists (it is writing), then lets it
    /// run `delay` seconds more and kills it with SIGKILL. Returns how it ended.
    static func killWhileWriting(_ executable: String, _ arguments: [String], in directory: TemporaryDirectory,
                                 delay: Double) throws -> Process.TerminationReason {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, temporaries(in: directory).isEmpty, Date() < deadline { usleep(1000) }
        if delay > 0 { usleep(useconds_t(delay * 1e6)) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason
    }

    /// `kill -9` at several points of a conversion: nothing under the final name (or, if the
    /// process won the race, a complete file that verifies), and the next run succeeds and
    /// leaves no temporary behind.
    @Test(arguments: [0.0, 0.05, 0.2])
    func killedConversionLeavesNoHalfFile(delay: Double) throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors"), output = directory.file("big.kiln")
        try Self.sparseSafetensors(source, tensors: 8, side: 2048)  // 128 MiB
        let reason = try Self.killWhileWriting(kiln, ["convert", source, "-o", output], in: directory, delay: delay)
        if reason == .uncaughtSignal {
            #expect(!FileManager.default.fileExists(atPath: output), "a killed conversion left \(output)")
        } else {
            #expect(try run(kiln, ["verify", output]).status == 0)
        }
        let again = try run(kiln, ["convert", source, "-o", output, "--overwrite"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.temporaries(in: directory).isEmpty, "\(directory.contents)")
        #expect(try run(kiln, ["verify", output]).status == 0)
    }

    /// The same for `kiln quantize` on the real model (it takes long enough to be caught).
    @Test(.enabled(if: RealModel.isPresent && !RealModel.skip, "needs the real model"), arguments: [0.0, 0.3])
    func killedQuantisationLeavesNoHalfFile(delay: Double) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("smol.kiln")
        let arguments = ["quantize", RealModel.path, "-o", output, "--scheme", "q8_0", "--method", "rtn", "--allow-requantize"]
        let reason = try Self.killWhileWriting(kiln, arguments, in: directory, delay: delay)
        if reason == .uncaughtSignal {
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        let again = try run(kiln, arguments + ["--overwrite"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(directory.contents == ["smol.kiln"], "\(directory.contents)")
    }

    /// A disk that fills up (RLIMIT_FSIZE of 1 MiB standing in for a small file system): a clear
    /// I/O error, exit 2, and neither output nor temporary file — not a SIGXFSZ death.
    @Test func fullDiskIsAClearErrorWithNoPartialOutput() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors"), output = directory.file("big.kiln")
        try Self.sparseSafetensors(source, tensors: 4, side: 1024)  // 16 MiB
        // The limit is in 1 KiB blocks in bash and dash's `ulimit -f`... dash uses 512-byte
        // blocks; 2048 is 1–2 MiB either way, well under the 16 MiB output.
        let result = try run("/bin/sh", ["-c", "ulimit -f 2048 && exec '\(kiln)' convert '\(source)' -o '\(output)'"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("kiln: error: "), "\(result.stderr)")
        #expect(result.stderr.contains("File too large"), "\(result.stderr)")
        #expect(directory.contents == ["big.safetensors"], "\(directory.contents)")
    }

    /// A destination that cannot be written: exit 2 naming it. (As root, permissions do not
    /// stop writes, so /proc — which refuses new files to everyone — stands in.)
    @Test func unwritableDestinationExitsTwo() throws {
        let directory = TemporaryDirectory()
        var destination = "/proc/kiln-fault-test.kiln"
        if getuid() != 0 {
            let locked = directory.file("locked")
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
            #expect(chmod(locked, 0o555) == 0)
            destination = locked + "/out.kiln"
        }
        let result = try run(kiln, ["convert", Repository.fixture("safetensors/unaligned.safetensors"), "-o", destination])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("kiln: error: "), "\(result.stderr)")
        #expect(result.stderr.contains(destination), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: destination))
    }

    /// A source truncated while it is mapped and being converted: the pages past the new end
    /// fault with SIGBUS, which must end as `kiln: error: FILE: byte N: …` and exit 2.
    @Test func sourceTruncatedWhileMappedIsAClearError() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.safetensors"), output = directory.file("big.kiln")
        try Self.sparseSafetensors(source, tensors: 8, side: 4096)  // 512 MiB
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kiln)
        process.arguments = ["convert", source, "-o", output]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Self.temporaries(in: directory).isEmpty, Date() < deadline { usleep(500) }
        // Keep the header (the first 4 KiB): the reader validated it, the tensors vanish.
        #expect(truncate(source, 4096) == 0)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
        #expect(process.terminationStatus == 2, "\(stderr)")
        #expect(stderr.contains("kiln: error: \(source): byte "), "\(stderr)")
        #expect(stderr.contains("shrank"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
