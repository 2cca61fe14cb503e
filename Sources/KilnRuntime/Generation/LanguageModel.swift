import Foundation
import KilnCore
import KilnFormats

/// A model ready to generate text: weights mapped from the file, tokenizer and config read
/// from it. Load once and share: concurrent generations each get their own KV cache.
public final class LanguageModel: Sendable {
    package let transformer: Transformer
    /// The model's tokenizer.
    public let tokenizer: BPETokenizer
    /// The model's hyper-parameters.
    public var config: ModelConfig { transformer.config }

    /// Loads any model file Kiln reads (`.kiln`, GGUF, safetensors or PyTorch with config.json, …).
    /// Weights stay in the file's mapping; quantised matrices are repacked into the kernels'
    /// interleaved layouts. `format` names the format when detection should not decide.
    ///
    /// - Throws: ``/KilnCore/KilnError``: as ``/KilnFormats/CanonicalModel/open(_:format:)``; `.unsupported` if the
    ///   architecture is not one the runtime runs (GPT-2, Llama family) or the file has no tokenizer.
    public convenience init(contentsOf url: URL, format: String? = nil) throws {
        try self.init(model: try CanonicalModel.open(url.path, format: format))
    }

    /// Loads a model already opened in canonical form.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.unsupported`) if the runtime cannot run its architecture or it
    ///   has no tokenizer; (`.malformed`) if a weight is missing or has the wrong shape.
    public convenience init(model: CanonicalModel) throws {
        try self.init(transformer: try Transformer(model: model))
    }

    /// A model over weights already loaded (so a caller that built the transformer with its own
    /// options does not load them twice).
    package init(transformer: Transformer) throws {
        self.transformer = transformer
        let model = transformer.model
        guard let spec = model.tokenizer else {
            throw KilnError(.unsupported, "the model file has no tokenizer", file: model.reader.paths.first)
        }
        tokenizer = try BPETokenizer(spec)
    }

    /// The prompt's tokens, with BOS first when the model asks for it.
    public func promptTokens(_ text: String) -> [Int] {
        let ids = tokenizer.encode(text)
        if tokenizer.spec.addBOS, let bos = tokenizer.spec.bosID, ids.first != bos { return [bos] + ids }
        return ids
    }

    /// A fresh KV cache for one sequence, holding `contextLength` positions (default: the
    /// model's context, at most 4096), in f16 when `halfPrecisionKVCache`. Throws a usage error
    /// when the context does not fit the model or the machine (see `InferenceState.init`).
    public func makeState(contextLength: Int? = nil, halfPrecisionKVCache: Bool = false) throws -> InferenceState {
        try InferenceState(transformer: transformer, contextLength: contextLength ?? min(config.context, 4096),
                       halfPrecisionCache: halfPrecisionKVCache)
    }

    /// Generates text after `prompt`, streamed as pieces of complete UTF-8 text. Generation runs
    /// on its own task with its own KV cache; cancelling the consuming task, or dropping the
    /// stream, stops it. The stream throws ``/KilnCore/KilnError`` if the prompt does not fit the context.
    public func generate(prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    let state = try makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
                    try Generator(transformer: transformer, tokenizer: tokenizer).generate(
                        prompt: promptTokens(prompt), state: state, options: options
                    ) { piece in
                        if Task.isCancelled { return false }
                        continuation.yield(piece)
                        return true
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
