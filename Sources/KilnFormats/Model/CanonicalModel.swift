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
    /// A norm weight stored as w where the model multiplies by (1 + w) (Gemma's RMSNorm): the
    /// canonical f32 tensor holds 1 + w, as llama.cpp's converter writes it. The one transform
    /// that changes values (and widens f16/bf16 to f32), so every norm reads the same.
    case addOne
}

/// A tensor under Kiln's canonical name, shape and layout, and how to get it from the source.
public struct CanonicalTensor: Sendable, Equatable {
    /// The canonical name (llama.cpp's: `token_embd.weight`, `blk.0.attn_q.weight`, …).
    public let name: String
    /// The element type, the same as the source's (transforms move values, they never convert
    /// them), except f32 for `.addOne`.
    public let type: ElementType
    /// Outermost dimension first; a weight matrix is `[out, in]`.
    public let shape: [Int]
    /// The source tensor this one is read from.
    public let source: SourceTensor
    /// How the source's bytes become this tensor's.
    public let transform: TensorTransform

    /// The canonical bytes' length (0 if the shape does not fit the type, which readers reject).
    public var byteCount: Int { (try? type.byteCount(shape: shape)) ?? 0 }
    /// The number of values: the product of ``shape``.
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
    /// The open checkpoint the tensors are read from; it stays open as long as this model lives.
    public let reader: any CheckpointReader
    /// nil when the architecture was not recognised.
    public let config: ModelConfig?
    /// The tokenizer, when the checkpoint (or the files beside it) has one.
    public let tokenizer: TokenizerSpec?
    /// Every tensor, under its canonical name, in the source's stored order.
    public let tensors: [CanonicalTensor]
    /// Metadata worth carrying into a converted file besides config and tokenizer
    /// (`general.name`, the source's own keys that were not mapped).
    package let extraMetadata: [String: MetadataValue]
    /// What was noticed while mapping the checkpoint (an unknown architecture, tensors kept
    /// under their source names, a missing tokenizer), for the user to read.
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

    /// Opens the file at `path` in any format Kiln reads (detected from its first bytes and
    /// extension, or `format` when given, such as `"gguf"`) and maps it to canonical form.
    /// Reads headers only; tensor data is read by ``data(_:)-(CanonicalTensor)``.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.io` if the file cannot be read, `.unsupported` if no format
    ///   recognises it, `.malformed` (with file, field and offset) if its header is invalid.
    public static func open(_ path: String, format: String? = nil) throws -> CanonicalModel {
        try CanonicalModel(reader: try FormatRegistry.open(path, format: format))
    }

    /// Maps an open checkpoint to canonical form: recognises its layout (GGUF, Hugging Face,
    /// nanoGPT, llama2.c, llm.c, `.kiln`), reads its config and tokenizer, and renames and
    /// plans transforms for its tensors. No tensor data is read.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.malformed`) if the config is inconsistent or two source
    ///   tensors map to one canonical name.
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

    /// The tensor with this canonical name, or nil.
    public func tensor(named name: String) -> CanonicalTensor? {
        index[name].map { tensors[$0] }
    }

    /// The tensor's bytes in canonical layout: a view into the source when no transform is
    /// needed, owned memory otherwise. Keep the result while using its bytes.
    ///
    /// - Throws: ``/KilnCore/KilnError`` if the source's bytes cannot be read.
    public func data(_ tensor: CanonicalTensor) throws -> TensorData {
        let source = try reader.data(tensor.source)
        return try withExtendedLifetime(source.owner) { try TensorTransforms.apply(tensor, to: source) }
    }

    /// The bytes of the tensor with this canonical name, as ``data(_:)-(CanonicalTensor)``.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.usage`) if there is no such tensor, or if its bytes cannot be read.
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
