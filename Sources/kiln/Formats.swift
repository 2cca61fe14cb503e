import ArgumentParser
import Kiln

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the checkpoint formats Kiln reads and writes.")

    @Flag(help: "Print JSON: [{\"name\", \"read\", \"write\", \"extensions\", \"summary\"}].")
    var json = false

    func run() throws {
        let plugins = FormatRegistry.builtin
        if json {
            print(JSONValue.array(plugins.map { plugin in
                .object([
                    "name": .string(plugin.name), "read": .bool(true), "write": .bool(plugin.writer != nil),
                    "extensions": .array(plugin.fileExtensions.map(JSONValue.string)), "summary": .string(plugin.summary),
                ])
            }).serialized(pretty: true))
            return
        }
        // Formats recognised only by their bytes (llm.c) claim no extension.
        let rows = plugins.map { plugin in
            [plugin.name, plugin.writer != nil ? "read/write" : "read",
             plugin.fileExtensions.isEmpty ? "(by content)" : "." + plugin.fileExtensions.joined(separator: ", ."), plugin.summary]
        }
        print(Table(header: ["format", "access", "extensions", "description"], rows: rows).text)
    }
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
struct Table {
    var header: [String]
    var rows: [[String]]

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
