import ArgumentParser
import Kiln

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the checkpoint formats Kiln reads.")

    func run() throws {
        let width = FormatRegistry.builtin.map(\.name.count).max() ?? 0
        for plugin in FormatRegistry.builtin {
            // Formats recognised only by their bytes (llm.c) claim no extension.
            let extensions = plugin.fileExtensions.isEmpty ? "(by content)" : "." + plugin.fileExtensions.joined(separator: ", .")
            print("\(plugin.name.padding(toLength: width, withPad: " ", startingAt: 0))  read   \(extensions)  \(plugin.summary)")
        }
    }
}
