import Foundation
import KilnCore

/// One tensor as a writer stores it: its name in the output, stored type and shape, and the
/// canonical tensor it is made from.
public struct ExportTensor: Sendable, Equatable {
    /// The name in the output (canonical, or Hugging Face's for the `hf` layout).
    public let name: String
    /// The element type stored.
    public let type: ElementType
    /// The shape in the output, outermost dimension first.
    public let shape: [Int]
    /// The stored bytes' length.
    public let byteCount: Int
    /// The canonical tensor it is made from.
    public let canonical: CanonicalTensor
    /// Rearrangement from the canonical layout to the output's (Hugging Face layout only).
    public let step: ExportStep

    /// The number of values.
    public var elementCount: Int { canonical.elementCount }
    /// Whether the values are converted to another element type on the way (a change of block
    /// order alone, row-major ↔ interleaved, is not a conversion).
    public var isConverted: Bool { BlockLayout.rowMajor(type) != BlockLayout.rowMajor(canonical.type) }
}

/// How a canonical tensor is rearranged for an output layout: the inverses of `TensorTransform`.
public enum ExportStep: Sendable, Equatable {
    /// Used as it is.
    case none
    /// A 2-D matrix transposed back (GPT-2's `Conv1D` stores `[in, out]`).
    case transpose
    /// GGUF's interleaved q/k rows regrouped back into Hugging Face's rotate-half order within
    /// each of `heads` heads: row `2j + i` becomes row `i·d/2 + j`.
    case deinterleaveHeads(heads: Int)
}

/// Which tensor names and arrangement an output uses.
public enum ExportLayout: String, Sendable, CaseIterable {
    /// Kiln's canonical names (llama.cpp's) and arrangement; `.kiln` output stores quantised
    /// matrices in the kernels' interleaved block order where one exists (`BlockLayout`).
    case canonical
    /// As `canonical`, but quantised blocks stay in row order (as GGUF stores them).
    case rowMajor = "row-major"
    /// Hugging Face transformers' names and arrangement, with config.json beside the file.
    case hf
}

/// Everything a `FormatWriter` needs: the tensors with their output names and types, the
/// model description, and the bytes of each tensor on demand (one at a time, converted as
/// needed). Building the plan checks that the writer can hold every tensor, so a conversion
/// that cannot succeed fails before any file is created.
public final class ExportPlan: @unchecked Sendable {
    // Sendable: immutable after init; `model` is Sendable.
    /// The model being written.
    public let model: CanonicalModel
    /// The tensors to write, in the order a writer should store them.
    public let tensors: [ExportTensor]
    /// The output's names and arrangement.
    public let layout: ExportLayout
    /// The `--dtype` asked for, if any.
    public let requestedType: ElementType?
    /// Config, tokenizer and carried keys in Kiln's canonical form (`.kiln` metadata).
    public let metadata: [String: MetadataValue]
    /// What the output will lose or change, and what the model's reader noticed, for the user.
    public private(set) var warnings: [String]
    /// Prepare the next tensor on another thread while the current one is written (the
    /// default); off, every step runs in turn on one thread (for measuring what overlap gains).
    package var pipelined = true

    /// Plans writing `model` with `writer`: output names and stored types for every tensor
    /// (converted to `dtype` when given), checked against the format before any file exists.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.usage` if the writer does not offer `layout`;
    ///   `.unsupported` naming the tensor or key the format cannot hold.
    public init(model: CanonicalModel, writer: any FormatWriter, dtype: ElementType? = nil,
                layout: ExportLayout = .canonical) throws {
        self.model = model
        self.layout = layout
        requestedType = dtype
        let file = model.reader.paths.first ?? ""
        guard writer.layouts.contains(layout) else {
            throw KilnError(.usage, "--layout \(layout.rawValue) applies to \(layout == .hf ? "safetensors" : "other") output, not \(writer.formatName)")
        }
        var warnings = model.warnings
        let arranged: [(name: String, shape: [Int], step: ExportStep, canonical: CanonicalTensor)]
        switch layout {
        case .canonical, .rowMajor:
            arranged = model.tensors.map { ($0.name, $0.shape, ExportStep.none, $0) }
        case .hf:
            let mapping = try HuggingFaceExport.arrange(model)
            arranged = mapping.tensors
            warnings += mapping.warnings
        }
        tensors = try arranged.map { entry in
            try withFileContext(file) {
                do {
                    // Writers choose among row-major types; the block order is decided here.
                    let rowMajorSource = CanonicalTensor(
                        name: entry.canonical.name, type: BlockLayout.rowMajor(entry.canonical.type), shape: entry.canonical.shape,
                        source: entry.canonical.source, transform: entry.canonical.transform)
                    var type = try writer.storedType(of: rowMajorSource, requested: dtype)
                    if layout == .canonical, writer.storesInterleavedBlocks, let interleaved = BlockLayout.interleaved(type, shape: entry.shape) {
                        type = interleaved
                    }
                    let byteCount = try type.byteCount(shape: entry.shape)
                    return ExportTensor(name: entry.name, type: type, shape: entry.shape, byteCount: byteCount,
                                        canonical: entry.canonical, step: entry.step)
                } catch let error as KilnError {
                    throw error.at("tensor '\(entry.canonical.name)'")
                }
            }
        }
        var names = Set<String>()
        for tensor in tensors where !names.insert(tensor.name).inserted {
            throw KilnError(.usage, "two tensors would be written as '\(tensor.name)'", file: file)
        }
        metadata = model.canonicalMetadata
        self.warnings = warnings
        try writer.check(self)
        self.warnings += writer.warnings(self)
    }

    /// The output's tensor bytes, summed.
    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    /// Whether any tensor changes element type on the way (so the source's own file type no
    /// longer describes the output).
    package var convertsTypes: Bool { tensors.contains { $0.isConverted } }
    /// The format the model originally came from, looking through a `.kiln` conversion.
    package var originalFormat: String {
        model.extraMetadata["source.format"]?.stringValue ?? model.reader.formatName
    }

    /// The tensor's bytes as stored in the output: a view into the source when nothing
    /// changes, owned memory otherwise. Keep the result while using its bytes.
    ///
    /// - Throws: ``/KilnCore/KilnError`` naming the source file and the tensor if its bytes
    ///   cannot be read or converted.
    public func data(_ tensor: ExportTensor) throws -> TensorData {
        let file = model.reader.paths.first ?? ""
        return try withFileContext(file) {
            do {
                // Source bytes → row-major blocks → the output's arrangement → its element type → its
                // block order. Each stage is the identity (a view, no copy) when nothing changes.
                let canonical = try model.data(tensor.canonical)
                let sourceType = BlockLayout.rowMajor(tensor.canonical.type), targetType = BlockLayout.rowMajor(tensor.type)
                let rowMajor = try withExtendedLifetime(canonical.owner) {
                    try BlockLayout.toRowMajor(canonical, type: tensor.canonical.type, shape: tensor.canonical.shape)
                }
                let arranged = try withExtendedLifetime(rowMajor.owner) { try ExportSteps.apply(tensor, to: rowMajor) }
                let converted = try withExtendedLifetime(arranged.owner) {
                    guard sourceType != targetType else { return arranged }
                    return try TypeConversion.convert(arranged.bytes, from: sourceType, to: targetType, elements: tensor.elementCount)
                }
                return try withExtendedLifetime(converted.owner) {
                    try BlockLayout.toInterleaved(converted, target: tensor.type, shape: tensor.shape)
                }
            } catch let error as KilnError {
                throw error.at("tensor '\(tensor.canonical.name)'")
            }
        }
    }

    /// Drops the source pages of a tensor that has been written (see `CheckpointReader.release`).
    public func release(_ tensor: ExportTensor) {
        model.reader.release(tensor.canonical.source)
    }

    /// Calls `body` with each tensor of `order` and its bytes, preparing the next tensor (reading,
    /// rearranging, converting) on another thread while `body` writes the current one. At most
    /// two tensors are in memory; each one's source pages are released once it is written.
    ///
    /// - Throws: the first error of `body` or of preparing a tensor; no later tensor is prepared.
    public func stream(_ order: [ExportTensor], _ body: (ExportTensor, TensorData) throws -> Void) throws {
        guard !order.isEmpty else { return }
        guard pipelined else {
            for tensor in order {
                let data = try self.data(tensor)
                try withExtendedLifetime(data.owner) { try body(tensor, data) }
                release(tensor)
            }
            return
        }
        var pending = Pending { try self.data(order[0]) }
        for index in order.indices {
            let current = try pending.wait()
            if index + 1 < order.count {
                let next = order[index + 1]
                pending = Pending { try self.data(next) }
            }
            do {
                try withExtendedLifetime(current.owner) { try body(order[index], current) }
            } catch {
                _ = try? pending.wait()  // let the background work finish before unwinding
                throw error
            }
            release(order[index])
        }
    }
}

/// A value computed on a background thread.
private final class Pending: @unchecked Sendable {
    // Sendable: `result` is written once before `group` is left and read only after `wait()`.
    private let group = DispatchGroup()
    private var result: Result<TensorData, Error>?

    init(_ work: @escaping @Sendable () throws -> TensorData) {
        DispatchQueue.global(qos: .userInitiated).async(group: group) { self.result = Result { try work() } }
    }

    func wait() throws -> TensorData {
        group.wait()
        return try result!.get()
    }
}
