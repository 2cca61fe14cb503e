import Foundation
import KilnCore

/// How a source tensor becomes its canonical form.
public enum TensorTransform: Sendable, Equatable {
    /// Used as stored (a view, no copy).
    case none
    /// A 2-D matrix transposed (GPT-2's `Conv1D` stores `[in, out]`; Kiln stores `[out, in]`).
    case transpose
    /// Rows regrouped within each of `heads` heads from Hugging Face's rotate-half order to the
    /// interleaved order GGUF (and the original Llama) use: row `i·d/2 + j` becomes row `2j + i`.
    case interleaveHeads(heads: Int)
    /// Entry `index` of a tensor stacked over its first dimension (llama2.c, llm.c store all
    /// layers in one tensor). A view.
    case slice(index: Int)
}

/// A tensor under Kiln's canonical name, shape and layout, and how to get it from the source.
public struct CanonicalTensor: Sendable, Equatable {
    public let name: String
    public let type: ElementType
    /// Outermost dimension first; a weight matrix is `[out, in]`.
    public let shape: [Int]
    public let source: SourceTensor
    public let transform: TensorTransform

    public var byteCount: Int { (try? type.byteCount(shape: shape)) ?? 0 }
    public var elementCount: Int { shape.reduce(1, *) }

    package init(name: String, type: ElementType, shape: [Int], source: SourceTensor, transform: TensorTransform) {
        self.name = name
        self.type = type
        self.shape = shape
        self.source = source
        self.transform = transform
    }

    package init(identity source: SourceTensor, name: String? = nil) {
        self.init(name: name ?? source.name, type: source.type, shape: source.shape, source: source, transform: .none)
    }
}

/// A checkpoint of any format seen through Kiln's one model description: canonical tensor
/// names (llama.cpp's: `token_embd.weight`, `blk.N.attn_q.weight`, …; docs/FORMAT.md §12),
/// one dimension order, a `ModelConfig` and a `TokenizerSpec`. Unknown architectures keep
/// their tensors as they are, with a warning.
public final class CanonicalModel: @unchecked Sendable {
    // Sendable: immutable after init; `reader` is Sendable.
    public let reader: any CheckpointReader
    /// nil when the architecture was not recognised.
    public let config: ModelConfig?
    public let tokenizer: TokenizerSpec?
    public let tensors: [CanonicalTensor]
    /// Metadata worth carrying into a converted file besides config and tokenizer
    /// (`general.name`, the source's own keys that were not mapped).
    package let extraMetadata: [String: MetadataValue]
    public let warnings: [String]
    private let index: [String: Int]

    package struct Recognized {
        package var config: ModelConfig?
        package var tokenizer: TokenizerSpec?
        package var tensors: [CanonicalTensor]
        package var extraMetadata: [String: MetadataValue] = [:]
        package var warnings: [String] = []

        package init(config: ModelConfig?, tokenizer: TokenizerSpec?, tensors: [CanonicalTensor],
                    extraMetadata: [String: MetadataValue] = [:], warnings: [String] = []) {
            self.config = config
            self.tokenizer = tokenizer
            self.tensors = tensors
            self.extraMetadata = extraMetadata
            self.warnings = warnings
        }
    }

    /// Layout recognisers, tried in order; the first that claims the checkpoint wins.
    package static let layouts: [any ModelLayout] = [
        KilnModelLayout(), GGUFModelLayout(), KilnSafetensorsLayout(), HuggingFaceModelLayout(), NanoGPTModelLayout(),
        Llama2cModelLayout(), LLMCModelLayout(),
    ]

    public static func open(_ path: String, format: String? = nil) throws -> CanonicalModel {
        try CanonicalModel(reader: try FormatRegistry.open(path, format: format))
    }

    public init(reader: any CheckpointReader) throws {
        self.reader = reader
        let file = reader.paths.first ?? ""
        var recognized: Recognized?
        for layout in Self.layouts {
            recognized = try withFileContext(file) { try layout.recognize(reader) }
            if recognized != nil { break }
        }
        let result = recognized ?? Recognized(
            config: nil, tokenizer: nil, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
            extraMetadata: reader.metadata.isEmpty ? [:] : ["source.metadata": .map(reader.metadata)],
            warnings: ["unknown architecture: tensors are kept under their source names, tensor for tensor"])
        if let config = result.config { try withFileContext(file) { try config.validate() } }
        config = result.config
        tokenizer = result.tokenizer
        tensors = result.tensors
        extraMetadata = result.extraMetadata
        warnings = result.warnings
        var index: [String: Int] = [:]
        for (i, tensor) in result.tensors.enumerated() {
            guard index.updateValue(i, forKey: tensor.name) == nil else {
                throw KilnError(.malformed, "two source tensors map to the canonical name '\(tensor.name)'", file: file)
            }
        }
        self.index = index
    }

    public func tensor(named name: String) -> CanonicalTensor? {
        index[name].map { tensors[$0] }
    }

    /// The tensor's bytes in canonical layout: a view into the source when no transform is
    /// needed, owned memory otherwise.
    public func data(_ tensor: CanonicalTensor) throws -> TensorData {
        let source = try reader.data(tensor.source)
        return try withExtendedLifetime(source.owner) { try TensorTransforms.apply(tensor, to: source) }
    }

    public func data(_ name: String) throws -> TensorData {
        guard let tensor = tensor(named: name) else {
            throw KilnError(.usage, "no tensor named '\(name)'", file: reader.paths.first)
        }
        return try data(tensor)
    }

    /// Metadata for a `.kiln` file holding this model: config, tokenizer and carried keys.
    package var canonicalMetadata: [String: MetadataValue] {
        var metadata = extraMetadata
        if let config {
            metadata[ModelConfig.metadataKey] = config.metadata
            metadata["general.architecture"] = .string(config.architecture)
        }
        if let tokenizer { metadata.merge(tokenizer.metadata) { _, new in new } }
        return metadata
    }
}

/// Recognises one family of checkpoint layouts and maps it to the canonical description.
package protocol ModelLayout: Sendable {
    /// nil when the checkpoint is not of this layout.
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized?
}
