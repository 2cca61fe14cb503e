import ArgumentParser
import Kiln

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the checkpoint formats Kiln reads.")

    func run() throws {
        for plugin in FormatRegistry.builtin {
            print("\(plugin.name.padding(toLength: 12, withPad: " ", startingAt: 0)) read   .\(plugin.fileExtensions.joined(separator: ", ."))  \(plugin.summary)")
        }
    }
}
