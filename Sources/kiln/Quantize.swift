import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine
import KilnQuant

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantise a model (any format Kiln reads) into a .kiln file, or a .gguf (q8_0, q4_0, q4_1).",
        discussion: """
            Schemes (every matrix in one scheme): \(QuantScheme.allCases.map(\.rawValue).joined(separator: ", ")). \
            Presets (embedding and head at 8 bits, and more): \(QuantRecipe.presetNames.joined(separator: ", ")). \
            Names ignore case. A recipe file is JSON: \
            {"default": "kq4", "rules": [{"match": "blk.*.attn_v.weight", "scheme": "q8_0"}]}. \
            Prints each tensor's scheme, RMSE, max abs error and SNR, and the model's bits per weight. \
            The output's extension decides its format: .kiln, or .gguf for recipes of GGUF's types \
            (q8_0, q4_0, q4_1; not kq4); anything else is refused before any work, as are \
            already-quantised inputs without --allow-requantize. -o DIR/ writes DIR/model.kiln.
            """)

    @Argument(help: "The model to quantise.")
    var input: String

    @Option(name: .shortAndLong, help: "The .kiln (or .gguf) file to write; folders are created.")
    var output: String

    @OptionGroup var quantization: QuantizationArguments

    @Flag(help: "Replace the output if it exists.")
    var overwrite = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    func validate() throws { try quantization.check() }

    func run() throws {
        let destination = OutputPath(output, defaultName: "model.kiln")
        _ = try FormatRegistry.writer(for: destination.file)  // an unknown extension, before opening anything
        try destination.checkOverwrite(overwrite)
        let model = try CanonicalModel.open(input, format: from)
        let recipe = try quantization.recipe(for: model, input: input)
        let target = try QuantizedOutput(destination.file, format: nil, recipe: recipe)
        try destination.createFolders()
        let report = try target.write(model, with: quantization, recipe: recipe)
        print(json ? QuantizeReportFormat.json(report).serialized(pretty: true) : QuantizeReportFormat.text(report))
    }
}

/// Options shared by `kiln quantize` and `kiln convert --quantize`.
struct QuantizationArguments: ParsableArguments {
    @Option(help: "A scheme (every matrix) or a preset; see the names below.")
    var scheme: String?

    @Option(help: "A JSON recipe file (glob → scheme).")
    var recipe: String?

    @Option(help: "A text file whose activations weight the error (importance, like llama.cpp's imatrix).")
    var calibration: String?

    @Option(name: .customLong("save-importance"), help: "Save the calibration's per-column importance to this file, for --importance.")
    var saveImportance: String?

    @Option(help: "Use the importance saved by --save-importance instead of running --calibration again.")
    var importance: String?

    @Option(help: "How scales are chosen: search (default) or rtn (reference rounding).")
    var method: String?

    @Option(name: .shortAndLong, parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Quantise a model whose matrices are already quantised (its error compounds; llama-quantize's flag).")
    var allowRequantize = false

    func check() throws {
        guard (scheme == nil) != (recipe == nil) else { throw ValidationError("give exactly one of --scheme NAME or --recipe FILE") }
        if let method, QuantMethod(rawValue: method.lowercased()) == nil { throw ValidationError("--method is search or rtn; got '\(method)'") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1; got \(threads)") }
        if let scheme, QuantRecipe.named(scheme, layers: 1) == nil {
            throw ValidationError("unknown scheme '\(scheme)'; schemes: \(QuantScheme.allCases.map(\.rawValue).joined(separator: ", ")); presets: \(QuantRecipe.presetNames.joined(separator: ", "))")
        }
        if importance != nil && calibration != nil { throw ValidationError("give at most one of --calibration and --importance") }
        if saveImportance != nil && calibration == nil { throw ValidationError("--save-importance needs --calibration") }
    }

    /// The recipe `--scheme` or `--recipe` asks for; refuses an already-quantised `model`
    /// (`input`) unless `--allow-requantize`.
    func recipe(for model: CanonicalModel, input: String) throws -> QuantRecipe {
        let quantized = model.tensors.filter { $0.shape.count == 2 && $0.type.isQuantized }
        if !quantized.isEmpty, !allowRequantize {
            let types = Set(quantized.map(\.type.name)).sorted().joined(separator: ", ")
            throw KilnError(.usage, """
                is already quantised (\(quantized.count) matrices in \(types)): quantising again compounds the error, and the \
                report would measure it against the dequantised weights, not the original ones. Quantise the f16/f32 \
                checkpoint instead, or pass --allow-requantize
                """, file: input)
        }
        if !quantized.isEmpty {
            printError("warning: requantising \(quantized.count) already-quantised matrices: the report's errors are against their dequantised values")
        }
        var recipe: QuantRecipe
        if let path = self.recipe {
            let mapping = try MappedFile(path: path)
            let json = try withFileContext(path) { try JSONValue.parse(String(decoding: mapping.bytes, as: UTF8.self)) }
            recipe = try withFileContext(path) { try QuantRecipe(json: json) }
        } else {
            let tied = !model.tensors.contains { $0.name == "output.weight" }
            recipe = QuantRecipe.named(scheme!, layers: model.config?.layers ?? 1, tiedEmbeddings: tied)!  // check() vetted the name
        }
        if let method { recipe.method = QuantMethod(rawValue: method.lowercased())! }
        return recipe
    }

    func run(_ model: CanonicalModel, recipe: QuantRecipe, output: String) throws -> QuantizationReport {
        var text: String?, hash: String?
        if let calibration {
            let mapping = try MappedFile(path: calibration)
            text = String(decoding: mapping.bytes, as: UTF8.self)
            hash = SHA256.hex(mapping.bytes)
        }
        let options = Quantization.Options(recipe: recipe, calibrationText: text, calibrationSHA256: hash,
                                           threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                           importancePath: importance, saveImportancePath: saveImportance)
        let progress = TerminalProgress("quantizing", total: model.tensors.count, unit: .items("tensors"))
        defer { progress.finish() }
        return try Quantization.quantize(model, output: output, options: options) { done, _ in progress.update(done) }
    }
}

enum QuantizeReportFormat {
    static func text(_ report: QuantizationReport) -> String {
        var lines = ["tensor".padding(toLength: 28, withPad: " ", startingAt: 0) + "scheme        rmse     max abs   SNR dB"]
        for entry in report.entries {
            let name = entry.name.padding(toLength: max(28, entry.name.count + 1), withPad: " ", startingAt: 0)
            if let error = entry.error {
                lines.append(name + entry.type.padding(toLength: 6, withPad: " ", startingAt: 0)
                    + String(format: " %11.3e %11.3e %8.2f", error.rmse, error.maxAbs, error.snrDecibels))
            } else {
                lines.append(name + entry.type.padding(toLength: 6, withPad: " ", startingAt: 0) + "   (kept)")
            }
        }
        lines.append("\(report.recipe.name): " + String(format: "%.3f bits per weight, ", report.bitsPerWeight) + Inspection.bytes(report.bytes)
            + String(format: ", %.1f s, %.0f MB/s of source weights", report.seconds, report.megabytesPerSecond))
        if report.calibrationTokens > 0 { lines.append("calibrated on \(report.calibrationTokens) tokens") }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: QuantizationReport) -> JSONValue {
        .object([
            "recipe": .string(report.recipe.name), "bits_per_weight": .double(report.bitsPerWeight),
            "bytes": .int(Int64(report.bytes)), "parameters": .int(Int64(report.parameters)), "seconds": .double(report.seconds),
            "megabytes_per_second": .double(report.megabytesPerSecond), "calibration_tokens": .int(Int64(report.calibrationTokens)),
            "tensors": .array(report.entries.map { entry in
                var object: [String: JSONValue] = ["name": .string(entry.name), "scheme": .string(entry.type),
                                                   "parameters": .int(Int64(entry.parameters)), "bytes": .int(Int64(entry.bytes))]
                if let error = entry.error {
                    object["rmse"] = .double(error.rmse)
                    object["max_abs"] = .double(error.maxAbs)
                    object["snr_db"] = error.snrDecibels.isFinite ? .double(error.snrDecibels) : .null
                }
                return .object(object)
            }),
        ])
    }
}
