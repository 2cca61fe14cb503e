import Foundation
import KilnCore

/// Writes GGUF version 3 files that llama.cpp and gguf-py load: the header (magic, version,
/// counts, typed key/values, tensor infos with dimensions innermost first), zero padding to
/// the alignment (32), then each tensor's bytes padded to the alignment, in info order: ggml's
/// reader requires each tensor's offset to be exactly the padded end of the one before.
/// Quantised tensors are copied block for block (Kiln's block layouts are GGUF's).
package struct GGUFWriter: FormatWriter {
    package init() {}
    package var formatName: String { "gguf" }
    package static let alignment = GGUFFile.defaultAlignment
    /// ggml's `GGML_MAX_NAME`: names must be shorter than this (the C string has a NUL).
    package static let maxNameBytes = 64

    static let typeIDs: [ElementType: UInt32] = Dictionary(uniqueKeysWithValues: GGUFTensorType.supported.map { ($1, $0) })

    package func storedType(of tensor: CanonicalTensor, requested: ElementType?) throws -> ElementType {
        var type = Self.defaultStoredType(tensor.type, requested: requested)
        // llama.cpp's converter keeps 1-D tensors (norms, biases) in f32 whatever the weights'
        // type: several ggml backends have no 16-bit kernels for the ops that use them.
        if type != tensor.type, type != .f32, tensor.shape.count <= 1 { type = .f32 }
        guard Self.typeIDs[type] != nil else {
            throw KilnError(.usage, "is \(type.name), which GGUF cannot hold: GGUF has no unsigned or boolean tensor types")
        }
        return type
    }

    package func check(_ plan: ExportPlan) throws {
        let file = plan.model.reader.paths.first
        for tensor in plan.tensors {
            guard tensor.name.utf8.count < Self.maxNameBytes else {
                throw KilnError(.usage, "the name is \(tensor.name.utf8.count) bytes; GGUF names must be shorter than \(Self.maxNameBytes)",
                                file: file, location: "tensor '\(tensor.name)'")
            }
            guard tensor.shape.count <= GGUFFile.maxDimensions else {
                throw KilnError(.usage, "shape \(tensor.shape) has \(tensor.shape.count) dimensions; GGUF allows at most \(GGUFFile.maxDimensions)",
                                file: file, location: "tensor '\(tensor.name)'")
            }
        }
    }

    package func warnings(_ plan: ExportPlan) -> [String] {
        (try? GGUFExportMetadata.entries(plan).warnings) ?? []
    }

    package func write(_ plan: ExportPlan, to path: String, options: WriteOptions, progress: ((Int, Int) -> Void)?) throws {
        let (entries, _) = try GGUFExportMetadata.entries(plan)
        let header = try Self.header(plan.tensors, entries)
        let output = try AtomicOutputFile(path: path)
        try output.write(header.bytes)
        try output.pad(to: header.dataOffset)
        let total = plan.totalBytes
        var done = 0
        try plan.stream(plan.tensors) { tensor, data in
            try output.write(data.bytes)
            // ggml pads after every tensor, the last included (gguf-py does the same).
            try output.pad(to: try Checked.alignUp(output.position, to: Self.alignment))
            done += tensor.byteCount
            progress?(done, total)
        }
        try output.commit()
    }

    /// The header bytes and the file offset where tensor data starts.
    static func header(_ tensors: [ExportTensor], _ entries: [GGUFExportMetadata.Entry]) throws -> (bytes: [UInt8], dataOffset: Int) {
        var out = ByteWriter()
        out.append(contentsOf: GGUFFile.magic)
        out.append(UInt32(3))
        out.append(UInt64(tensors.count))
        out.append(UInt64(entries.count))
        for entry in entries { try GGUFValueEncoder.entry(entry.key, entry.type, entry.value, into: &out) }
        var offset = 0
        for tensor in tensors {
            out.appendString(tensor.name)
            // GGUF lists dimensions innermost first (a scalar has none, as gguf-py writes it).
            let dims = Array(tensor.shape.reversed())
            out.append(UInt32(dims.count))
            for dimension in dims { out.append(UInt64(dimension)) }
            out.append(typeIDs[tensor.type]!)
            out.append(UInt64(offset))
            offset = try Checked.alignUp(try Checked.add(offset, tensor.byteCount, "GGUF data offset"), to: alignment)
        }
        return (out.bytes, try Checked.alignUp(out.bytes.count, to: alignment))
    }
}
