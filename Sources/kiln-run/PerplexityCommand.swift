import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text, computed as llama.cpp's perplexity tool does (comparable numbers).")

    @Argument(help: "The model: a file, or a Hugging Face folder.")
    var model: String

    // `--text` was the first spelling; kept, hidden, so scripts written for it go on working.
    @Option(name: [.short, .long, .customLong("text", withSingleDash: false)],
            help: ArgumentHelp("The text file to score (llama.cpp's -f).", valueName: "file"))
    var file: String

    @Option(name: [.short, .customLong("ctx-size"), .customLong("ctx")], help: "Window length; the second half of each window is scored.")
    var ctx: Int = 512

    @Flag(help: "Print JSON: {\"perplexity\": x, \"tokens\": n, …}.")
    var json = false

    @Option(name: .customLong("save-logits"), help: "Save the model's distributions here, as the base for --kl-divergence.")
    var saveLogits: String?

    @Option(name: .customLong("kl-divergence"), help: "Compare with a base saved by --save-logits (same text and --ctx): KLD, same top-1, Δp.")
    var klDivergence: String?

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard ctx >= 8 else { throw ValidationError("-c/--ctx-size must be at least 8; got \(ctx)") }
        if saveLogits != nil && klDivergence != nil { throw ValidationError("give at most one of --save-logits and --kl-divergence") }
    }

    func run() throws {
        let contents = try PromptSource.text(of: file)
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let comparison: LogitsComparison? = saveLogits.map { .save($0) } ?? klDivergence.map { .compare($0) }
        // Every window on a terminal; a line every few seconds in a pipe or a log.
        let terminal = isatty(2) == 1
        var lastLine = DispatchTime.now()
        let result = try language.perplexity(text: contents, context: ctx, logits: comparison) { done, total, running in
            if terminal || seconds(since: lastLine) >= 5 || done == total {
                printError(String(format: "[%d/%d] %.4f", done, total, running))
                lastLine = DispatchTime.now()
            }
        }
        if json {
            var object: [String: JSONValue] = [
                "perplexity": .double(result.perplexity), "tokens": .int(Int64(result.scoredTokens)),
                "windows": .int(Int64(result.windows)), "ctx": .int(Int64(ctx)), "seconds": .double(result.seconds),
            ]
            if let kl = result.klDivergence { object["kl_divergence"] = KLReport.json(kl) }
            print(JSONValue.object(object).serialized())
        } else {
            print(String(format: "perplexity %.4f over %d tokens (%d windows of %d) in %.1f s",
                         result.perplexity, result.scoredTokens, result.windows, ctx, result.seconds))
            if let kl = result.klDivergence { print(KLReport.text(kl)) }
        }
    }
}

/// The KL-divergence report, in llama.cpp's terms.
enum KLReport {
    static func text(_ kl: KLDivergenceSummary) -> String {
        var lines = [String(format: "mean KLD %.6f ± %.6f over %d tokens, same top-1 %.3f%%", kl.meanKLD, kl.meanKLDError, kl.tokens, 100 * kl.sameTop1)]
        lines.append("KLD percentiles: " + [50, 90, 95, 99, 99.9, 100].map { String(format: "%g%% %.6f", $0, kl.kldPercentiles[$0] ?? .nan) }.joined(separator: ", "))
        lines.append(String(format: "Δp mean %.4f%%, RMS %.4f%%; percentiles: ", 100 * kl.meanDeltaP, 100 * kl.rmsDeltaP)
            + [0, 1, 5, 10, 50, 90, 95, 99, 100].map { String(format: "%g%% %.4f%%", $0, 100 * (kl.deltaPPercentiles[$0] ?? .nan)) }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    static func json(_ kl: KLDivergenceSummary) -> JSONValue {
        func map(_ values: [Double: Double]) -> JSONValue {
            .object(Dictionary(uniqueKeysWithValues: values.map { (String(format: "%g", $0.key), JSONValue.double($0.value)) }))
        }
        return .object([
            "tokens": .int(Int64(kl.tokens)), "mean": .double(kl.meanKLD), "mean_error": .double(kl.meanKLDError),
            "percentiles": map(kl.kldPercentiles), "same_top1": .double(kl.sameTop1),
            "delta_p_mean": .double(kl.meanDeltaP), "delta_p_rms": .double(kl.rmsDeltaP), "delta_p_percentiles": map(kl.deltaPPercentiles),
        ])
    }
}
