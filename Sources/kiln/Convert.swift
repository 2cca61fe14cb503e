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

    @Option(name: .shortAndLong, help: "The file to write (folders are created); DIR/ writes a Hugging Face folder (DIR/model.safetensors, config.json, tokenizer files).")
    var output: String

    @Option(help: "Input format, when it cannot be recognised from the file (\(FormatRegistry.builtin.map(\.name).joined(separator: ", "))).")
    var from: String?

    @Option(help: "Output format (kiln, safetensors, gguf); by default from the output's extension.")
    var to: String?

    @Option(help: ArgumentHelp("Store float tensors as f32, f16 or bf16 (fp16, float16, bfloat16, float32 also accepted), dequantising quantised ones.", valueName: "type"))
    var dtype: String?

    @Option(help: ArgumentHelp("canonical (llama.cpp names; .kiln stores q8_0/q4_0/q4_1 matrices in the kernels' interleaved block order, which decodes fastest), row-major (the same, blocks kept in row order), or hf (safetensors: Hugging Face names, with config.json and tokenizer files beside it; the default for -o DIR/).", valueName: "layout"))
    var layout: String?

    @Option(help: ArgumentHelp("Compress .kiln tensors with zstd at this level (1–19); 0 stores them raw for zero-copy loading.", valueName: "level"))
    var compress: Int32?

    @Option(help: ArgumentHelp("Quantise while converting (to .kiln, or .gguf for q8_0/q4_0/q4_1): a scheme or preset, as `kiln quantize --scheme`.", valueName: "scheme"))
    var quantize: String?

    @Flag(help: "With --quantize: accept an input that is already quantised.")
    var allowRequantize = false

    @Flag(help: .hidden)
    var noPipeline = false

    @Flag(help: "Replace the output (and, for --layout hf, its side files) if it exists.")
    var overwrite = false

    @Flag(help: "Print a JSON summary on stdout (the quantisation report with --quantize).")
    var json = false

    func validate() throws {
        if let compress { guard (0...19).contains(compress) else { throw ValidationError("--compress takes a level from 0 to 19; got \(compress)") } }
        if let layout {
            guard ExportLayout(rawValue: layout.lowercased()) != nil else {
                throw ValidationError("--layout takes \(ExportLayout.allCases.map(\.rawValue).joined(separator: ", ")); got '\(layout)'")
            }
        }
    }

    func run() throws {
        // -o DIR/ names a folder: a Hugging Face folder by default, model.<ext> for --to.
        let folderFormat = to?.lowercased() ?? "safetensors"
        let folderExtension = FormatRegistry.plugin(named: folderFormat)?.fileExtensions.first ?? folderFormat
        let destination = OutputPath(output, defaultName: "model." + folderExtension)
        let layout = ExportLayout(rawValue: (self.layout ?? (destination.isFolder && folderFormat == "safetensors" ? "hf" : "canonical")).lowercased())!
        let writer = try FormatRegistry.writer(for: destination.file, format: to)
        try destination.checkOverwrite(overwrite)
        if let quantize {
            // The same path as `kiln quantize`.
            let unused = [dtype.map { _ in "--dtype" }, compress.map { _ in "--compress" }, self.layout.map { _ in "--layout" }].compactMap { $0 }
            guard unused.isEmpty else {
                throw KilnError(.usage, "--quantize does not combine with \(unused.joined(separator: " or ")): the quantiser chooses each tensor's type and storage")
            }
            // Parsed, not assigned: an unparsed ArgumentParser property traps when read.
            let arguments = try QuantizationArguments.parse(["--scheme", quantize] + (allowRequantize ? ["--allow-requantize"] : []))
            let model = try CanonicalModel.open(input, format: from)
            let recipe = try arguments.recipe(for: model, input: input)
            let target = try QuantizedOutput(destination.file, format: to, recipe: recipe)
            try destination.createFolders()
            let report = try target.write(model, with: arguments, recipe: recipe)
            print(json ? QuantizeReportFormat.json(report).serialized(pretty: true) : QuantizeReportFormat.text(report))
            return
        }
        let compress = self.compress ?? 0
        if compress > 0, writer.formatName != "kiln" {
            throw KilnError(.usage, "--compress applies to .kiln output only (writing \(writer.formatName))")
        }
        let options = Conversion.Options(
            storage: compress > 0 ? .zstd(level: compress) : .raw, dtype: try dtype.map(ExportDType.named),
            layout: layout, overwrite: overwrite)
        let model = try CanonicalModel.open(input, format: from)
        let plan = try ExportPlan(model: model, writer: writer, dtype: options.dtype, layout: options.layout)
        plan.pipelined = !noPipeline  // hidden: for measuring the overlap (docs/PERFORMANCE.md)
        for warning in plan.warnings { printError("warning: \(warning)") }
        try destination.createFolders()
        let output = destination.file
        let progress = TerminalProgress("converting", total: plan.totalBytes)
        let summary = try Conversion.write(plan, with: writer, output: output, options: options) { done, _ in progress.update(done) }
        progress.finish()
        printError(
            "wrote \(output): \(summary.tensors) tensors, \(Inspection.bytes(summary.inputBytes)) in → \(Inspection.bytes(summary.outputBytes)) out (\(writer.formatName)), "
                + String(format: "%.2f s, %.0f MB/s", summary.seconds, summary.outputMegabytesPerSecond))
        if json {
            print(JSONValue.object([
                "output": .string(output), "format": .string(writer.formatName), "layout": .string(layout.rawValue),
                "tensors": .int(Int64(summary.tensors)), "input_bytes": .int(Int64(summary.inputBytes)),
                "output_bytes": .int(Int64(summary.outputBytes)), "seconds": .double(summary.seconds),
                "warnings": .array(plan.warnings.map { .string("\($0)") }),
            ]).serialized(pretty: true))
        }
    }
}
