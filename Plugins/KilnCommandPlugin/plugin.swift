import Foundation
import PackagePlugin

/// `swift package kiln <arguments>`: runs the `kiln` tool (convert, quantize, inspect, verify,
/// diff) with the package directory as the working directory, so models committed to a
/// package can be converted or checked without installing anything.
@main
struct KilnCommandPlugin: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let tool = try context.tool(named: "kiln")
        let process = Process()
        process.executableURL = tool.url
        process.arguments = arguments
        process.currentDirectoryURL = context.package.directoryURL
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PluginFailure("kiln \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus)")
        }
    }
}

struct PluginFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
