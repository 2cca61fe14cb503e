import ArgumentParser
import Kiln

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, architecture, parameters, metadata and tensors.")

    @Argument(help: "The file to inspect (.kiln or any format Kiln reads).")
    var file: String

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Show metadata arrays in full instead of summarising long ones.")
    var fullMetadata = false

    func run() throws {
        let inspection = Inspection(try FormatRegistry.open(file, format: from))
        print(json ? inspection.json(fullMetadata: fullMetadata).serialized(pretty: true) : inspection.text())
    }
}
