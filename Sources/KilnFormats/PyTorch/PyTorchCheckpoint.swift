import KilnCore

/// A checkpoint written by `torch.save`: the zip format (PyTorch ≥ 1.6, the default) or the
/// legacy concatenated-pickle format. Its pickle is run by `PickleMachine`; tensors are windows
/// of storages. A C-contiguous window of a little-endian storage is a zero-copy view into the
/// mapping; a strided one (a transposed tensor, say) or a big-endian one is gathered into
/// memory Kiln owns, on first use.
package final class PyTorchCheckpoint: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    package enum Container: String, Sendable {
        case zip, legacy
    }

    /// Where a storage's bytes are.
    enum StorageBytes {
        /// Absolute byte range in the mapping.
        case mapped(Range<Int>)
        /// A deflated zip record (PyTorch never writes one, but a re-zipped archive may).
        case deflated(ZipArchive, ZipArchive.Entry)
    }

    struct Layout {
        let storage: StorageBytes
        let type: ElementType
        let shape: [Int]
        let strides: [Int]
        /// In elements.
        let offset: Int
        let contiguous: Bool
        let byteSwap: Bool
    }

    package let path: String
    package let container: Container
    package let mapping: MappedFile
    package let metadata: [String: MetadataValue]
    package let sourceTensors: [SourceTensor]
    private let layouts: [String: Layout]
    package var formatName: String { "pytorch" }
    package var paths: [String] { [path] }

    init(mapping: MappedFile, container: Container, tree: TorchObjectTree, machine: PickleMachine,
         storages: [Int: StorageBytes], byteSwap: Bool) throws {
        self.mapping = mapping
        self.path = mapping.path
        self.container = container
        var sources: [SourceTensor] = []
        var layouts: [String: Layout] = [:]
        for (name, index) in tree.tensors {
            let ref = machine.tensors[index]
            let storage = machine.storages[ref.storage]
            guard let bytes = storages[ref.storage] else {
                throw KilnError.malformed("the bytes of storage '\(storage.key)' were not found", at: nil, "tensor '\(name)'")
            }
            let byteCount = try storage.type.byteCount(shape: ref.shape)
            let contiguous = Self.isContiguous(shape: ref.shape, strides: ref.strides)
            let swap = byteSwap && storage.type.blockBytes > 1
            // A gathered tensor is allocated in full: a broadcast view (stride 0) could claim far
            // more than the file holds, so the copy is capped at the file's size.
            if !contiguous || swap, byteCount > mapping.count {
                throw KilnError(.unsupported,
                                "tensor of size \(ref.shape) with strides \(ref.strides) would need \(byteCount) bytes gathered, more than the whole \(mapping.count)-byte file; re-save it with .contiguous()",
                                location: "tensor '\(name)'")
            }
            layouts[name] = Layout(storage: bytes, type: storage.type, shape: ref.shape, strides: ref.strides,
                                   offset: ref.storageOffset, contiguous: contiguous, byteSwap: swap)
            sources.append(SourceTensor(name: name, type: storage.type, shape: ref.shape, byteCount: byteCount))
        }
        self.sourceTensors = sources
        self.layouts = layouts
        self.metadata = tree.metadata
    }

    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let layout = layouts[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: path)
        }
        let storage: TensorData
        switch layout.storage {
        case .mapped(let range):
            storage = TensorData(bytes: UnsafeRawBufferPointer(rebasing: mapping.bytes[range]), owner: mapping)
        case .deflated(let archive, let entry):
            storage = try withFileContext(path) { try archive.contents(entry) }
        }
        let itemSize = layout.type.blockBytes
        if layout.contiguous && !layout.byteSwap {
            let start = layout.offset * itemSize
            return TensorData(bytes: UnsafeRawBufferPointer(rebasing: storage.bytes[start..<(start + tensor.byteCount)]), owner: storage.owner)
        }
        let owned = try withExtendedLifetime(storage.owner) {
            try StridedCopy.gather(storage.bytes, itemSize: itemSize, offset: layout.offset, shape: layout.shape,
                               strides: layout.strides, byteSwap: layout.byteSwap, byteCount: tensor.byteCount)
        }
        return TensorData(owned)
    }

    /// C order: the last dimension varies fastest. Dimensions of size 1 may have any stride
    /// (PyTorch does not normalise them), and an empty tensor is trivially contiguous.
    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        if shape.contains(0) { return true }
        var expected = 1
        for d in shape.indices.reversed() {
            if shape[d] != 1 && strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }
}
