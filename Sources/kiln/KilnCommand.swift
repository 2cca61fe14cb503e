import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Convert, quantise, inspect, verify and diff model checkpoints.",
        discussion: """
            Exit status: 0 on success; 1 when an input is malformed, unsupported or fails \
            verification; 2 for usage and I/O errors. `kiln diff` differs: 1 means the models \
            differ, 2 any error.
            """,
        version: KilnVersion.current,
        subcommands: [Convert.self, Quantize.self, Inspect.self, Verify.self, Diff.self, Formats.self]
    )

    static func main() { runWithKilnExitStatus() }
}
