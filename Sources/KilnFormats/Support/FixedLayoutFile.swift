import KilnCore

/// A checkpoint whose tensors lie back to back at offsets its header implies (llama2.c,
/// llm.c): every tensor is a zero-copy view into the mapping.
package final class FixedLayoutFile: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    package let formatName: String
    package let path: String
    package let mapping: MappedFile
    package let metadata: [String: MetadataValue]
    package let sourceTensors: [SourceTensor]
    private let offsets: [String: Int]
    package var paths: [String] { [path] }

    init(formatName: String, mapping: MappedFile, metadata: [String: MetadataValue], layout: FixedLayout) {
        self.formatName = formatName
        self.mapping = mapping
        self.path = mapping.path
        self.metadata = metadata
        self.sourceTensors = layout.tensors.map(\.tensor)
        self.offsets = Dictionary(uniqueKeysWithValues: layout.tensors.map { ($0.tensor.name, $0.offset) })
    }

    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let offset = offsets[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: path)
        }
        return TensorData(bytes: UnsafeRawBufferPointer(rebasing: mapping.bytes[offset..<(offset + tensor.byteCount)]), owner: mapping)
    }
}

/// Lays tensors out one after another from a starting offset, with overflow-checked sizes.
/// `finish` then requires the layout to end exactly at the end of the file: for formats with
/// no table of contents, that is the check that the header and the file agree.
struct FixedLayout {
    private(set) var tensors: [(tensor: SourceTensor, offset: Int)] = []
    private(set) var position: Int
    /// The file's size: a layout running past it stops at once, so an absurd header (a
    /// billion layers) costs one error, not a billion table entries.
    let limit: Int

    init(start: Int, limit: Int) {
        position = start
        self.limit = limit
    }

    mutating func add(_ name: String, _ type: ElementType, _ shape: [Int]) throws {
        let byteCount = try type.byteCount(shape: shape)
        let end = try Checked.add(position, byteCount, "end of tensor '\(name)'")
        guard end <= limit else {
            throw KilnError.malformed("truncated: tensor '\(name)' \(shape) would end at byte \(end) but the file has \(limit) bytes (is the header right?)",
                                      at: UInt64(min(position, limit)), "tensor '\(name)'")
        }
        tensors.append((SourceTensor(name: name, type: type, shape: shape, byteCount: byteCount), position))
        position = end
    }

    /// The layout must cover the file exactly; `describe` says what the header said, for the error.
    func finish(fileSize: Int, describe: String) throws {
        guard position == fileSize else {
            throw KilnError.malformed(
                "the header (\(describe)) implies a \(position)-byte file, but the file is \(fileSize) bytes"
                    + (position > fileSize ? " (truncated?)" : " (\(fileSize - position) bytes too many)"),
                at: UInt64(min(position, fileSize)))
        }
    }
}
