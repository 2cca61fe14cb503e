import KilnCore

/// One side of a tensor comparison: a canonical tensor read a range of elements at a time,
/// straight from its source bytes. Unlike `CanonicalModel.data`, a transform (Llama's q/k row
/// regrouping, GPT-2's transposed `Conv1D`) is applied per range into a small scratch buffer,
/// so comparing a tensor never holds a transformed copy of all of it.
struct CanonicalTensorSource: @unchecked Sendable {
    // Sendable: read-only after init; `data.owner` keeps the bytes alive.
    let tensor: CanonicalTensor
    /// The source tensor's bytes (a view into a mapping, or memory of its own).
    let data: TensorData
    /// The mapping `data` lies in, when it is one: compared pages are given back to it.
    let mapping: MappedFile?
    /// Elements per canonical row for transformed tensors (ranges must be whole rows); 1 otherwise.
    let rowElements: Int

    /// The element type the bytes in `data` hold: the tensor's own, or for a kernel-interleaved
    /// layout its row-major base (the bytes are de-interleaved once, at init).
    let type: ElementType
    var isContiguous: Bool {
        switch tensor.transform {
        case .none, .slice, .addOne: return true
        case .interleaveHeads, .transpose: return false
        }
    }
    /// Every range asked for must start and end on a multiple of this many elements.
    var granule: Int { leastCommonMultiple(rowElements, type.blockElements) }

    init(_ tensor: CanonicalTensor, in model: CanonicalModel, file: String) throws {
        self.tensor = tensor
        let reader = model.reader
        var data: TensorData
        if let kiln = reader as? KilnFile, let info = kiln.tensor(named: tensor.source.name) {
            data = try kiln.transientData(info)
        } else {
            data = try reader.data(tensor.source)
        }
        guard data.bytes.count == tensor.source.byteCount else {
            throw KilnError(.malformed, "source tensor '\(tensor.source.name)' has \(data.bytes.count) bytes, expected \(tensor.source.byteCount)",
                            file: file, location: "tensor '\(tensor.name)'")
        }
        let elements = tensor.elementCount
        switch tensor.transform {
        case .none:
            rowElements = 1
        case .addOne:
            data = try TensorTransforms.apply(tensor, to: data)  // a norm: small, made whole at once
            rowElements = 1
        case .slice(let index):
            let length = tensor.byteCount
            let start = index * length
            guard index >= 0, start + length <= data.bytes.count else {
                throw KilnError(.malformed, "slice \(index) of '\(tensor.source.name)' runs past its end", file: file, location: "tensor '\(tensor.name)'")
            }
            data = TensorData(bytes: UnsafeRawBufferPointer(rebasing: data.bytes[start..<(start + length)]), owner: data.owner)
            rowElements = 1
        case .interleaveHeads(let heads):
            let rows = tensor.shape.first ?? 1
            guard heads > 0, rows > 0, rows % heads == 0, (rows / heads) % 2 == 0,
                  (elements / rows) % tensor.type.blockElements == 0 else {
                throw KilnError(.malformed, "\(rows) rows of shape \(tensor.shape) do not split into \(heads) heads of even size",
                                file: file, location: "tensor '\(tensor.name)'")
            }
            rowElements = elements / rows
        case .transpose:
            guard tensor.type.scalarBytes != nil, tensor.source.shape.count == 2 else {
                throw KilnError(.unsupported, "cannot transpose \(tensor.type.name) of shape \(tensor.source.shape)",
                                file: file, location: "tensor '\(tensor.name)'")
            }
            rowElements = tensor.source.shape[0]
        }
        // Kernel layouts interleave rows in groups: compared in row-major order, so de-interleave.
        if let interleaving = tensor.type.interleaving, tensor.shape.count == 2 {
            let rows = tensor.shape[0], cols = tensor.shape[1]
            let rowMajor = try OwnedBytes(count: try interleaving.base.byteCount(shape: tensor.shape))
            withExtendedLifetime(data.owner) {
                interleaving.deinterleave(data.bytes.baseAddress!, rows: rows, cols: cols, into: rowMajor.pointer)
            }
            data = TensorData(rowMajor)
            type = interleaving.base
        } else {
            type = tensor.type
        }
        mapping = (data.owner as? MappedFile) ?? (data.owner as? KilnFile)?.mapping
        self.data = data
    }

    /// Bytes a range of `elements` elements takes in this tensor's type.
    func byteCount(_ elements: Int) -> Int { elements / type.blockElements * type.blockBytes }

    /// The canonical bytes of elements `range` (both ends multiples of `granule`): a view into
    /// the source when no transform is needed, else gathered into `scratch`, which must hold
    /// `byteCount(range.count)` bytes.
    func bytes(_ range: Range<Int>, scratch: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        let base = data.bytes.baseAddress!
        let length = byteCount(range.count)
        switch tensor.transform {
        case .none, .slice, .addOne:
            return UnsafeRawBufferPointer(start: base + byteCount(range.lowerBound), count: length)
        case .interleaveHeads(let heads):
            let headRows = (tensor.shape.first ?? 1) / heads, rowBytes = byteCount(rowElements)
            for (slot, row) in (range.lowerBound / rowElements..<range.upperBound / rowElements).enumerated() {
                let sourceRow = TensorTransforms.interleavedSourceRow(row, headRows: headRows)
                (scratch + slot * rowBytes).copyMemory(from: base + sourceRow * rowBytes, byteCount: rowBytes)
            }
        case .transpose:
            // Canonical row c is source column c of a [rows, cols] matrix.
            TensorTransforms.gatherTransposed(
                base, rows: tensor.source.shape[0], cols: tensor.source.shape[1], width: type.blockBytes,
                columns: range.lowerBound / rowElements..<range.upperBound / rowElements, into: scratch)
        }
        return UnsafeRawBufferPointer(start: scratch, count: length)
    }

    /// Linux maps cached file pages around a faulting one: 64 KiB of "fault-around", or a whole
    /// large folio of the page cache, up to 2 MiB (measured: releasing with a 64 KiB margin
    /// still left ~7% of a 1 GiB tensor resident). Reading a range can thus map up to this many
    /// bytes before it again after they were released.
    static let faultAround = 2 << 20

    /// Gives back the mapped pages of `range`, done by every thread, and again those of the
    /// `faultAround` bytes before it, which reading `range` may have mapped (contiguous
    /// tensors only; the others read rows from all over the tensor and are released whole by
    /// `releaseAll`). Pages after it are released with the ranges that follow.
    func release(_ range: Range<Int>) {
        guard isContiguous, let mapping else { return }
        let start = max(0, byteCount(range.lowerBound) - Self.faultAround)
        mapping.release(UnsafeRawBufferPointer(rebasing: data.bytes[start..<byteCount(range.upperBound)]))
    }

    func releaseAll() {
        mapping?.release(data.bytes)
    }
}

func leastCommonMultiple(_ a: Int, _ b: Int) -> Int {
    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    return a / gcd(a, b) * b
}
