import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to .kiln, safetensors or GGUF.",
        discussion: """
            Tensors stream one at a time (memory is bounded by the largest tensor), and the output \
            is written to a temporary file that is renamed into place only when complete. Without \
            --dtype tensor types are kept; quantised tensors need --dtype to go to safetensors.
            """)

    @Argument(help: "The checkpoint to convert.")
    var input: String

    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String

    @Option(help: "Input format, when it cannot be recognised from the file (\(FormatRegistry.builtin.map(\.name).joined(separator: ", "))).")
    var from: String?

    @Option(help: "Output format (kiln, safetensors, gguf); by default from the output's extension.")
    var to: String?

    @Option(help: ArgumentHelp("Store float tensors as f32, f16 or bf16, dequantising quantised ones.", valueName: "type"))
    var dtype: String?

    @Option(help: ArgumentHelp("canonical (llama.cpp names; .kiln stores q8_0/q4_0/q4_1 matrices in the kernels' interleaved block order, which decodes fastest), row-major (the same, blocks kept in row order), or hf (safetensors: Hugging Face names, with config.json and tokenizer files beside it).", valueName: "layout"))
    var layout: String = ExportLayout.canonical.rawValue

    @Option(help: ArgumentHelp("Compress .kiln tensors with zstd at this level (1–19); 0 stores them raw for zero-copy loading.", valueName: "level"))
    var compress: Int32 = 0

    @Option(help: ArgumentHelp("Quantise while converting to .kiln: a scheme or preset, as `kiln quantize --scheme`.", valueName: "scheme"))
    var quantize: String?

    @Flag(help: .hidden)
    var noPipeline = false

    @Flag(help: "Replace the output (and, for --layout hf, its side files) if it exists.")
    var overwrite = false

    func validate() throws {
        guard (0...19).contains(compress) else { throw ValidationError("--compress takes a level from 0 to 19") }
        guard ExportLayout(rawValue: layout) != nil else {
            throw ValidationError("--layout takes \(ExportLayout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        if !overwrite, FileManager.default.fileExists(atPath: output) {
            throw KilnError(.usage, "already exists; choose another path or pass --overwrite", file: output)
        }
        if let quantize {
            // The same path as `kiln quantize`: the quantiser writes the .kiln file itself.
            guard try FormatRegistry.writer(for: output, format: to).formatName == "kiln", dtype == nil, compress == 0 else {
                throw KilnError(.usage, "--quantize writes .kiln output and does not combine with --dtype or --compress")
            }
            var arguments = QuantizationArguments()
            arguments.scheme = quantize
            let report = try arguments.run(try CanonicalModel.open(input, format: from), output: output)
            print(QuantizeReportFormat.text(report))
            return
        }
        let writer = try FormatRegistry.writer(for: output, format: to)
        if compress > 0, writer.formatName != "kiln" {
            throw KilnError(.usage, "--compress applies to .kiln output only (writing \(writer.formatName))")
        }
        let options = Conversion.Options(
            storage: compress > 0 ? .zstd(level: compress) : .raw, dtype: try dtype.map(ExportDType.named),
            layout: ExportLayout(rawValue: layout)!, overwrite: overwrite)
        let model = try CanonicalModel.open(input, format: from)
        let plan = try ExportPlan(model: model, writer: writer, dtype: options.dtype, layout: options.layout)
        plan.pipelined = !noPipeline  // hidden: for measuring the overlap (docs/PERFORMANCE.md)
        for warning in plan.warnings { printError("warning: \(warning)") }
        let progress = TerminalProgress("converting", total: plan.totalBytes)
        let summary = try Conversion.write(plan, with: writer, output: output, options: options) { done, _ in progress.update(done) }
        progress.finish()
        printError(
            "wrote \(output): \(summary.tensors) tensors, \(Inspection.bytes(summary.inputBytes)) in → \(Inspection.bytes(summary.outputBytes)) out (\(writer.formatName)), "
                + String(format: "%.2f s, %.0f MB/s", summary.seconds, summary.outputMegabytesPerSecond))
    }
}
