import ArgumentParser
import Foundation
import Kiln

/// Options every command that runs a model shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Threads for the matrix products (default: all cores).")
    var threads: Int?

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    func load(_ path: String) throws -> LoadedModel {
        if let threads { RuntimeSettings.setThreads(threads) }
        let start = DispatchTime.now()
        let model = try CanonicalModel.open(path, format: from)
        let transformer = try Transformer(model: model)
        return LoadedModel(model: model, transformer: transformer,
                           loadSeconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }
}

struct LoadedModel {
    let model: CanonicalModel
    let transformer: Transformer
    let loadSeconds: Double

    func tokenizer() throws -> BPETokenizer {
        guard let spec = model.tokenizer else {
            throw KilnError(.unsupported, "the model file has no tokenizer; pass --ids", file: model.reader.paths.first)
        }
        return try BPETokenizer(spec)
    }
}
