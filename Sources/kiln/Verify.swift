import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a file's structure and every checksum.",
        discussion: "Exit status 0 when the file is sound, 1 when it is not (each bad tensor is named), 2 on I/O errors.")

    @Argument(help: "The file to verify.")
    var file: String

    @Flag(help: "Print JSON.")
    var json = false

    @Option(name: .shortAndLong, help: "Threads to hash with.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1; got \(threads)") }
    }

    func run() throws {
        let start = DispatchTime.now()
        let reader: any CheckpointReader
        do {
            reader = try FormatRegistry.open(file)
        } catch let error as KilnError where error.kind != .io && error.kind != .usage {
            // A file that does not even parse is unsound: report it like a failed check.
            report(sound: false, tensors: 0, bytes: 0, seconds: 0, failures: [("(structure)", error)], checksums: false)
            throw ExitCode(1)
        }
        guard let kiln = reader as? KilnFile else {
            // Other formats carry no checksums: parsing and validating the structure is the check.
            report(sound: true, tensors: reader.sourceTensors.count, bytes: 0, seconds: 0, failures: [], checksums: false)
            return
        }
        let total = kiln.tensors.reduce(0) { $0 + $1.storedLength }
        let progress = TerminalProgress("verifying", total: total)
        let result = kiln.verify(threads: threads) { progress.update($0) }
        progress.finish()
        report(sound: result.isSound, tensors: result.tensorsChecked, bytes: result.bytesChecked, seconds: seconds(since: start),
               failures: result.failures.map { ($0.tensor, $0.error) }, checksums: true)
        if !result.isSound { throw ExitCode(1) }
    }

    private func report(sound: Bool, tensors: Int, bytes: Int, seconds: Double,
                        failures: [(String, KilnError)], checksums: Bool) {
        let rate = seconds > 0 ? Double(bytes) / seconds / 1e9 : 0
        if json {
            let object: JSONValue = .object([
                "file": .string(file),
                "sound": .bool(sound),
                "checksums_checked": .bool(checksums),
                "tensors": .int(Int64(tensors)),
                "bytes": .int(Int64(bytes)),
                "seconds": .double(seconds),
                "gigabytes_per_second": .double(rate),
                "failures": .array(failures.map {
                    .object(["tensor": .string($0.0), "kind": .string($0.1.kind.rawValue), "message": .string($0.1.description)])
                }),
            ])
            print(object.serialized(pretty: true))
            return
        }
        for (tensor, error) in failures {
            print("BAD  \(tensor): \(error)")
        }
        if sound {
            let what = checksums ? "all \(tensors) tensor checksums match" : "structure is valid (\(tensors) tensors; this format has no checksums)"
            print("OK   \(file): \(what)" + (checksums ? " (\(Inspection.bytes(bytes)) in " + String(format: "%.3f s, %.2f GB/s)", seconds, rate) : ""))
        } else {
            print("FAIL \(file): \(failures.count) problem\(failures.count == 1 ? "" : "s")")
        }
    }
}
