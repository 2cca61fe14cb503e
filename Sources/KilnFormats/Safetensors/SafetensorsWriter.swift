import Foundation
import KilnCore

/// Writes a single safetensors file that the reference library (huggingface/safetensors) loads.
///
/// The format requires the tensors to tile the data section exactly (contiguous, no holes), so
/// alignment cannot come from gaps. Kiln pads the JSON header with spaces so the data section
/// starts at a multiple of 64, then stores first every tensor whose size is a multiple of 64
/// bytes (each such tensor starts 64-byte aligned: in practice every weight matrix), then the
/// rest by descending element size, as the reference writer orders them, so each of those is
/// at least aligned to its own element size. Explicit padding tensors could align everything
/// but would show up as extra weights in every loader, so Kiln does not add them.
///
/// `__metadata__` holds strings only: `format` = `pt` (transformers checks it) and, for the
/// canonical layout, Kiln's model description as JSON text (`kiln.config`, `kiln.tokenizer`,
/// `kiln.name`), which Kiln reads back (`KilnSafetensorsLayout`).
package struct SafetensorsWriter: FormatWriter {
    package init() {}
    package var formatName: String { "safetensors" }
    package var layouts: [ExportLayout] { [.canonical, .rowMajor, .hf] }

    static let dtypeNames: [ElementType: String] = Dictionary(uniqueKeysWithValues: SafetensorsFile.dtypes.map { ($1, $0) })

    package func storedType(of tensor: CanonicalTensor, requested: ElementType?) throws -> ElementType {
        let type = Self.defaultStoredType(tensor.type, requested: requested)
        guard Self.dtypeNames[type] != nil else {
            throw KilnError(.usage,
                "is \(type.name), which safetensors cannot hold (it stores plain numbers only); pass --dtype f32, f16 or bf16 to dequantise")
        }
        return type
    }

    package func write(_ plan: ExportPlan, to path: String, options: WriteOptions, progress: ((Int, Int) -> Void)?) throws {
        let sideFiles = plan.layout == .hf ? try HuggingFaceExport.sideFiles(plan) : []
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        if !options.overwrite {
            for side in sideFiles where FileManager.default.fileExists(atPath: directory.appendingPathComponent(side.name).path) {
                throw KilnError(.usage, "already exists; pass --overwrite to replace it",
                                file: directory.appendingPathComponent(side.name).path)
            }
        }
        let order = Self.order(plan.tensors)
        let header = try Self.header(order, metadata: Self.metadata(plan))
        let output = try AtomicOutputFile(path: path)
        try output.write(header)
        let dataStart = output.position
        let total = plan.totalBytes
        var done = 0
        try plan.stream(order) { tensor, data in
            try output.write(data.bytes)
            done += tensor.byteCount
            progress?(done, total)
        }
        precondition(output.position == dataStart + total, "safetensors data does not tile its section")
        // Side files first: if they fail, the model file is never published without them.
        let sides = try sideFiles.map { side -> AtomicOutputFile in
            let file = try AtomicOutputFile(path: directory.appendingPathComponent(side.name).path)
            try file.write(Array(side.contents.utf8))
            return file
        }
        for side in sides { try side.commit() }
        try output.commit()
    }

    /// 64-byte-sized tensors first (each then starts 64-aligned), the rest by descending element
    /// size; plan order otherwise.
    static func order(_ tensors: [ExportTensor]) -> [ExportTensor] {
        let aligned = tensors.filter { $0.byteCount % 64 == 0 }
        let rest = tensors.enumerated().filter { $0.element.byteCount % 64 != 0 }.sorted {
            let a = $0.element.type.blockBytes, b = $1.element.type.blockBytes
            return a != b ? a > b : $0.offset < $1.offset
        }.map(\.element)
        return aligned + rest
    }

    /// The length field and JSON header, padded with spaces so the data starts at a multiple of 64.
    static func header(_ order: [ExportTensor], metadata: [String: String]) throws -> [UInt8] {
        var entries: [String: JSONValue] = [:]
        var offset = 0
        for tensor in order {
            let end = try Checked.add(offset, tensor.byteCount, "safetensors data offset")
            entries[tensor.name] = .object([
                "dtype": .string(dtypeNames[tensor.type]!),
                "shape": .array(tensor.shape.map { .int(Int64($0)) }),
                "data_offsets": .array([.int(Int64(offset)), .int(Int64(end))]),
            ])
            offset = end
        }
        guard entries["__metadata__"] == nil else {
            throw KilnError(.usage, "a tensor is named '__metadata__', which safetensors reserves")
        }
        if !metadata.isEmpty { entries["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
        var json = Array(JSONValue.object(entries).serialized().utf8)
        let padded = try Checked.alignUp(8 + json.count, to: 64) - 8
        json += [UInt8](repeating: 0x20, count: padded - json.count)
        guard json.count <= SafetensorsFile.maxHeaderSize else {
            throw KilnError(.unsupported, "the safetensors header would be \(json.count) bytes, over the format's limit of \(SafetensorsFile.maxHeaderSize)")
        }
        var out = ByteWriter()
        out.append(UInt64(json.count))
        out.append(contentsOf: json)
        return out.bytes
    }

    static func metadata(_ plan: ExportPlan) -> [String: String] {
        var metadata: [String: String] = [:]
        // Keys a safetensors source had (other than Kiln's own) go back where they came from.
        if plan.originalFormat == "safetensors", let source = plan.model.extraMetadata["source.metadata"]?.mapValue {
            for (key, value) in source where !key.hasPrefix("kiln.") {
                if let text = value.stringValue { metadata[key] = text }
            }
        }
        metadata["format"] = "pt"
        guard plan.layout != .hf else { return metadata }
        if let config = plan.model.config { metadata[KilnSafetensorsLayout.configKey] = MetadataJSON.json(config.metadata).serialized() }
        if let tokenizer = plan.model.tokenizer {
            metadata[KilnSafetensorsLayout.tokenizerKey] = MetadataJSON.json(.map(tokenizer.metadata)).serialized()
        }
        if let name = plan.model.extraMetadata["general.name"]?.stringValue { metadata[KilnSafetensorsLayout.nameKey] = name }
        return metadata
    }
}
