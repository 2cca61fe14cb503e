import KilnCore

/// Writes a model in one checkpoint format. A writer receives an `ExportPlan` (tensors in
/// canonical form with the types they will be stored as, config, tokenizer, metadata) and
/// streams it to disk tensor by tensor through `AtomicOutputFile`, so memory stays bounded by
/// the tensors in flight and a failed or killed write leaves nothing under the final name.
public protocol FormatWriter: Sendable {
    /// The format's short name (`kiln`, `safetensors`, `gguf`).
    var formatName: String { get }
    /// The tensor layouts the format can be written in (canonical and row-major for all).
    var layouts: [ExportLayout] { get }
    /// Whether the format stores the kernels' interleaved block layouts (`.kiln` only).
    var storesInterleavedBlocks: Bool { get }
    /// The type `tensor` is stored as when the user asked for `requested` (nil: keep types).
    /// Throws, naming the tensor, when the format cannot hold it.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.unsupported`) naming the tensor when the format cannot hold it.
    func storedType(of tensor: CanonicalTensor, requested: ElementType?) throws -> ElementType
    /// Checks the whole plan before any file is created (names, shapes, types), so an
    /// impossible conversion fails at once rather than after writing gigabytes.
    ///
    /// - Throws: ``/KilnCore/KilnError`` naming the tensor or key the format cannot hold.
    func check(_ plan: ExportPlan) throws
    /// What the output will lose or change (keys the format cannot hold, …), for the user.
    func warnings(_ plan: ExportPlan) -> [String]
    /// Writes the plan to `path`, atomically. `progress` is called with (bytes done, bytes total).
    ///
    /// - Throws: ``/KilnCore/KilnError`` if a tensor cannot be read or the file cannot be
    ///   written; nothing appears at `path` then.
    func write(_ plan: ExportPlan, to path: String, options: WriteOptions, progress: ((Int, Int) -> Void)?) throws
}

extension FormatWriter {
    /// The common rule: `--dtype` converts float tensors and dequantises quantised ones;
    /// integer and boolean tensors keep their type.
    public func storedType(of tensor: CanonicalTensor, requested: ElementType?) throws -> ElementType {
        Self.defaultStoredType(tensor.type, requested: requested)
    }

    /// Canonical and row-major: what every format can be written in.
    public var layouts: [ExportLayout] { [.canonical, .rowMajor] }
    /// False: only `.kiln` stores the kernels' interleaved layouts.
    public var storesInterleavedBlocks: Bool { false }
    /// Accepts every plan.
    public func check(_ plan: ExportPlan) throws {}
    /// No warnings.
    public func warnings(_ plan: ExportPlan) -> [String] { [] }

    package static func defaultStoredType(_ type: ElementType, requested: ElementType?) -> ElementType {
        guard let requested, type.category == .float || type.category == .quantized else { return type }
        return requested
    }
}

/// Settings a writer may use; each ignores those that do not apply to its format.
public struct WriteOptions: Sendable {
    /// `.kiln` only: raw or zstd-compressed tensors.
    public var storage: KilnWriter.Storage
    /// Replace side files (config.json, tokenizer files) that already exist.
    public var overwrite: Bool

    /// Options with each field as documented.
    public init(storage: KilnWriter.Storage = .raw, overwrite: Bool = false) {
        self.storage = storage
        self.overwrite = overwrite
    }
}

/// The dtypes `--dtype` accepts: the float types every writer can store.
package enum ExportDType {
    package static let allowed: [ElementType] = [.f32, .f16, .bf16]

    /// The spellings people bring from PyTorch and llama.cpp, besides Kiln's own type names.
    static let aliases: [String: ElementType] = [
        "fp32": .f32, "float32": .f32, "float": .f32, "fp16": .f16, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "bf16": .bf16,
    ]

    package static func named(_ name: String) throws -> ElementType {
        guard let type = aliases[name.lowercased()] ?? ElementType.named(name.lowercased()), allowed.contains(type) else {
            throw KilnError(.usage, "--dtype takes \(allowed.map(\.name).joined(separator: ", ")) (or fp16, float16, bfloat16, float32); got '\(name)'")
        }
        return type
    }
}
