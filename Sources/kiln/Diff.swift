import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

extension DiffReport.FailOn: ExpressibleByArgument {}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two model files, across formats: tensors, config, tokenizer and metadata.",
        discussion: """
            Tensors are matched by canonical name, so a GGUF and the Hugging Face safetensors it \
            was converted from compare tensor for tensor. Per tensor: max |a-b|, mean |a-b|, RMSE, \
            RMSE / RMS(A), cosine similarity, SNR = 10 log10(sum a^2 / sum (a-b)^2) in dB with A as \
            the signal, and the share of elements beyond tolerance, |a-b| > atol + rtol*|b| \
            (numpy.isclose). The defaults (0, 0) accept no numeric difference. Quantised tensors \
            are compared through their dequantised values.

            A tensor is identical when its bytes are equal (same element type) or every value is \
            equal (different types). Changed element types alone do not make the models different.

            Exit status: 0 when the models are equal within tolerance, 1 when they differ (see \
            --fail-on), 2 on any error (unreadable or malformed input, bad arguments).
            """)

    @Argument(help: "Model A, the reference (any format Kiln reads).")
    var a: String

    @Argument(help: "Model B, compared with A.")
    var b: String

    @Flag(help: "Print JSON.")
    var json = false

    @Option(name: .customLong("tensors"), help: ArgumentHelp(
        "Compare only tensors whose canonical name matches this shell glob (repeatable), e.g. 'blk.*.attn_q.weight'.",
        valueName: "glob"))
    var tensorPatterns: [String] = []

    @Option(help: "Absolute tolerance: |a-b| <= atol + rtol*|b| counts as equal.")
    var atol: Double = 0

    @Option(help: "Relative tolerance, as a fraction of |b|.")
    var rtol: Double = 0

    @Flag(help: "List only tensors that are not identical.")
    var onlyChanged = false

    @Option(help: ArgumentHelp(
        "changed: exit 1 when a tensor differs beyond tolerance, a shape changed or metadata differs; any: also when a tensor is on one side only.",
        valueName: "changed|any"))
    var failOn: DiffReport.FailOn = .changed

    @Option(name: .customLong("ignore-key"), help: ArgumentHelp(
        "Leave out metadata differences whose key matches this glob (repeatable), e.g. 'tokenizer.chat_template'.",
        valueName: "glob"))
    var ignoredKeys: [String] = []

    @Flag(help: "Also compare provenance.* and source.format, which are ignored by default.")
    var allMetadata = false

    @Flag(help: "Read every tensor, even .kiln tensors whose checksums already show them identical.")
    var noChecksums = false

    @Option(name: .shortAndLong, help: "Threads to compare with.")
    var threads: Int = 2

    func validate() throws {
        guard atol >= 0, rtol >= 0, atol.isFinite, rtol.isFinite else { throw ValidationError("--atol and --rtol must be finite and at least 0") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1; got \(threads)") }
    }

    func run() throws {
        let options = ModelDiff.Options(
            tolerance: .init(absolute: atol, relative: rtol), tensorPatterns: tensorPatterns, threads: threads,
            useChecksums: !noChecksums,
            ignoredMetadata: (allMetadata ? [] : ModelDiff.Options.defaultIgnoredMetadata) + ignoredKeys)
        let report: DiffReport
        do {
            let modelA = try CanonicalModel.open(a), modelB = try CanonicalModel.open(b)
            for warning in modelA.warnings { printError("warning: A: \(warning)") }
            for warning in modelB.warnings { printError("warning: B: \(warning)") }
            let progress = LazyProgress("comparing")
            report = try ModelDiff.compare(modelA, modelB, options: options) { progress.update($0, of: $1) }
            progress.finish()
        } catch {
            // Any failure is exit 2 here, so that 1 can only mean "different".
            _ = KilnCommand.reportError(error, json: json)
            throw ExitCode(2)
        }
        print(json ? report.json(onlyChanged: onlyChanged, failOn: failOn).serialized(pretty: true)
                   : report.text(onlyChanged: onlyChanged, failOn: failOn))
        if report.isDifferent(failOn: failOn) { throw ExitCode(1) }
    }
}

/// A progress bar whose total is known only once the work has started (the bytes of the
/// matched tensors). Updates may come from several threads.
final class LazyProgress: @unchecked Sendable {
    // Sendable: `bar` is guarded by `lock`; TerminalProgress is itself thread-safe.
    private let label: String
    private let lock = NSLock()
    private var bar: TerminalProgress?

    init(_ label: String) { self.label = label }

    func update(_ done: Int, of total: Int) {
        lock.lock()
        if bar == nil { bar = TerminalProgress(label, total: total) }
        let bar = bar!
        lock.unlock()
        bar.update(done)
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        bar?.finish()
    }
}
