import ArgumentParser
import Foundation
import Kiln

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint into a .kiln file.",
        discussion: "The output is written to a temporary file and renamed into place only when complete.")

    @Argument(help: "The checkpoint to convert.")
    var input: String

    @Option(name: .shortAndLong, help: "The .kiln file to write.")
    var output: String

    @Option(help: "Input format, when it cannot be recognised from the file (\(FormatRegistry.builtin.map(\.name).joined(separator: ", "))).")
    var from: String?

    @Option(help: ArgumentHelp("Compress tensors with zstd at this level (1–19); 0 stores them raw for zero-copy loading.", valueName: "level"))
    var compress: Int32 = 0

    @Flag(help: "Replace the output if it exists.")
    var overwrite = false

    func validate() throws {
        guard (0...19).contains(compress) else { throw ValidationError("--compress takes a level from 0 to 19") }
    }

    func run() throws {
        if !overwrite, FileManager.default.fileExists(atPath: output) {
            throw KilnError(.usage, "already exists; choose another path or pass --overwrite", file: output)
        }
        let model = try CanonicalModel.open(input, format: from)
        for warning in model.warnings { printError("warning: \(warning)") }
        let total = model.tensors.reduce(0) { $0 + $1.byteCount }
        let progress = TerminalProgress("converting", total: total)
        let options = Conversion.Options(storage: compress > 0 ? .zstd(level: compress) : .raw)
        let summary = try Conversion.toKiln(model, output: output, options: options) { done, _ in progress.update(done) }
        progress.finish()
        printError(
            "wrote \(output): \(summary.tensors) tensors, \(Inspection.bytes(summary.inputBytes)) in → \(Inspection.bytes(summary.outputBytes)) out, "
                + String(format: "%.2f s, %.0f MB/s", summary.seconds, summary.megabytesPerSecond))
    }
}
