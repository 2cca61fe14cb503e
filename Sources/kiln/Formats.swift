import ArgumentParser
import Kiln

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the checkpoint formats Kiln reads and writes.")

    func run() throws {
        for plugin in FormatRegistry.builtin {
            let access = plugin.writer != nil ? "read/write" : "read      "
            print("\(plugin.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(access)  .\(plugin.fileExtensions.joined(separator: ", ."))  \(plugin.summary)")
        }
    }
}
