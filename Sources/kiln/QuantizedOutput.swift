import Foundation
import Kiln
import KilnCommandLine
import KilnQuant

/// Where a quantised model goes. The quantiser writes `.kiln`; a `.gguf` name gets a real GGUF
/// (quantised into a hidden `.kiln` beside it, then converted: the converter stores q8_0, q4_0
/// and q4_1 blocks in GGUF's row order), and anything GGUF or the name's format cannot hold is
/// refused before any work — never a `.kiln` file under another format's name.
struct QuantizedOutput {
    let file: String
    let format: String

    /// Checks that `file` (with `--to format`, if given) can hold what `recipe` produces.
    init(_ file: String, format: String?, recipe: QuantRecipe) throws {
        self.file = file
        self.format = try FormatRegistry.writer(for: file, format: format).formatName
        switch self.format {
        case "kiln": break
        case "gguf":
            // kq4 is Kiln's own type; small matrices fall back to q8_0 or f16, which GGUF holds.
            let schemes = Set([recipe.defaultScheme] + recipe.rules.map(\.scheme))
            if let foreign = schemes.first(where: { $0.type.ggmlType == nil }) {
                throw KilnError(.usage, """
                    recipe '\(recipe.name)' uses \(foreign.rawValue), Kiln's own type, which GGUF cannot hold; \
                    for a GGUF choose q8_0, q4_0 or q4_1 (or the q8 / q4 presets), or write a .kiln file
                    """, file: file)
            }
        default:
            throw KilnError(.usage, """
                quantised tensors cannot be stored in \(self.format); write a .kiln or .gguf file \
                (or convert to \(self.format) with --dtype f16)
                """, file: file)
        }
    }

    /// Quantises `model` into the output, through a hidden `.kiln` beside it for GGUF.
    func write(_ model: CanonicalModel, with arguments: QuantizationArguments, recipe: QuantRecipe) throws -> QuantizationReport {
        guard format == "gguf" else { return try arguments.run(model, recipe: recipe, output: file) }
        let url = URL(fileURLWithPath: file)
        let staging = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".quantizing-\(getpid()).kiln"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let report = try arguments.run(model, recipe: recipe, output: staging)
        let quantized = try CanonicalModel.open(staging)
        let writer = try FormatRegistry.writer(for: file, format: "gguf")
        let plan = try ExportPlan(model: quantized, writer: writer, dtype: nil, layout: .canonical)
        let summary = try Conversion.write(plan, with: writer, output: file, options: .init(overwrite: true))
        printError("wrote \(file): \(summary.tensors) tensors, \(Inspection.bytes(summary.outputBytes)) (gguf)")
        return report
    }
}
