import Foundation
import KilnCore
import KilnFormats

/// A model ready to generate text: weights mapped from the file, tokenizer and config read
/// from it. Load once and share: concurrent generations each get their own KV cache.
public final class LanguageModel: Sendable {
    package let transformer: Transformer
    public let tokenizer: BPETokenizer
    public var config: ModelConfig { transformer.config }

    /// Loads any model file Kiln reads (`.kiln`, GGUF, safetensors or PyTorch with config.json, …).
    public convenience init(contentsOf url: URL, format: String? = nil) throws {
        try self.init(model: try CanonicalModel.open(url.path, format: format))
    }

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

    /// A fresh KV cache for one sequence.
    public func makeState(contextLength: Int? = nil, halfPrecisionKVCache: Bool = false) -> InferenceState {
        InferenceState(transformer: transformer, contextLength: contextLength ?? min(config.context, 4096),
                       halfPrecisionCache: halfPrecisionKVCache)
    }

    /// Generates text after `prompt`, streamed as pieces of complete UTF-8 text.
    public func generate(prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    let state = makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
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
