import Foundation
import PackagePlugin

/// Converts (and optionally quantises) models at build time. Put a `kiln-models.json` among a
/// target's sources:
///
///     {"models": [{"input": "Models/tiny.safetensors", "output": "tiny.kiln", "quantize": "q8"}]}
///
/// `input` is relative to the directory of `kiln-models.json`; `quantize` (a scheme or preset) is optional.
/// Each output is built into the plugin's work directory and bundled as a resource of the
/// target; it is rebuilt only when the input, the configuration or the `kiln` tool changes.
@main
struct KilnBuildPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let sourceTarget = target as? SourceModuleTarget,
              let configFile = sourceTarget.sourceFiles.first(where: { $0.url.lastPathComponent == "kiln-models.json" })
        else { return [] }
        let configuration = try ModelsConfiguration.load(configFile.url)
        let tool = try context.tool(named: "kiln")
        return try configuration.models.map { model in
            let base = configFile.url.deletingLastPathComponent()
            let input = base.appending(path: model.input)
            guard FileManager.default.fileExists(atPath: input.path) else {
                throw PluginFailure("\(configFile.url.path): input '\(model.input)' does not exist (paths are relative to \(base.path))")
            }
            let output = context.pluginWorkDirectoryURL.appending(path: model.output)
            var arguments = model.quantize.map { ["quantize", input.path, "-o", output.path, "--scheme", $0] }
                ?? ["convert", input.path, "-o", output.path]
            arguments.append("--overwrite")
            return .buildCommand(
                displayName: "kiln: \(model.input) → \(model.output)",
                executable: tool.url, arguments: arguments,
                inputFiles: [input, configFile.url, tool.url], outputFiles: [output])
        }
    }
}

/// The `kiln-models.json` schema.
struct ModelsConfiguration: Decodable {
    struct Model: Decodable {
        var input: String
        var output: String
        var quantize: String?
    }

    var models: [Model]

    static func load(_ url: URL) throws -> ModelsConfiguration {
        let configuration: ModelsConfiguration
        do {
            configuration = try JSONDecoder().decode(ModelsConfiguration.self, from: Data(contentsOf: url))
        } catch {
            throw PluginFailure("\(url.path): \(error) — expected {\"models\": [{\"input\": …, \"output\": \"name.kiln\", \"quantize\": \"q8\"}]}")
        }
        for model in configuration.models where !model.output.hasSuffix(".kiln") || model.output.contains("/") {
            throw PluginFailure("\(url.path): output '\(model.output)' must be a file name ending in .kiln")
        }
        return configuration
    }
}

struct PluginFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
