/// One kind of tensor element: a plain number type, or a quantised block type whose
/// elements are stored in fixed-size blocks (`blockElements` values in `blockBytes` bytes).
///
/// Every type is described exactly once, in `ElementType.registry`; the `.kiln` reader and
/// writer, the format plugins, the dequantiser and the tools all look types up there.
public struct ElementType: Sendable, Hashable, CustomStringConvertible {
    /// What kind of number a type holds, which decides how tools treat it (only float and
    /// quantised tensors are weights that can be converted or quantised).
    public enum Category: String, Sendable {
        /// IEEE or bfloat16 floating point.
        case float
        /// Two's-complement integers.
        case signedInteger
        /// Unsigned integers.
        case unsignedInteger
        /// One byte per value, zero or not.
        case boolean
        /// Block-quantised values that decode to floats.
        case quantized
    }

    /// The stable numeric id stored in `.kiln` files. Never reused.
    package let id: UInt32
    /// The stable name (`f32`, `q4_0`, …) used in files, on the command line and in reports.
    public let name: String
    /// Whether the type holds floats, integers, booleans or quantised blocks.
    public let category: Category
    /// Values per block: 1 for plain types.
    public let blockElements: Int
    /// Bytes per block.
    public let blockBytes: Int
    /// For the interleaved kernel layouts, how groups of rows are stored (docs/FORMAT.md §7.4);
    /// nil for row-major types, whose blocks tile each row from its start.
    package let interleaving: RowInterleaving?
    /// ggml's id for this layout (`enum ggml_type`, as GGUF files store it), when GGUF has one:
    /// the bytes are identical, so GGUF tensors are carried as this type and never requantised.
    package let ggmlType: UInt32?
    /// Decodes `blocks` whole blocks from `source` into `blocks * blockElements` floats.
    /// Interleaved types decode their base type's row-major blocks here.
    @usableFromInline
    let decode: @Sendable (_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) -> Void

    init(
        id: UInt32, name: String, category: Category, blockElements: Int, blockBytes: Int, interleaving: RowInterleaving? = nil,
        ggml: UInt32? = nil,
        decode: @escaping @Sendable (_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) -> Void
    ) {
        self.id = id
        self.name = name
        self.category = category
        self.blockElements = blockElements
        self.blockBytes = blockBytes
        self.interleaving = interleaving
        self.ggmlType = ggml
        self.decode = decode
    }

    /// An interleaved type storing `base`'s blocks `rows` rows at a time.
    init(id: UInt32, name: String, interleaving base: ElementType, rows: Int, headerBytes: Int) {
        self.init(
            id: id, name: name, category: base.category, blockElements: base.blockElements, blockBytes: base.blockBytes,
            interleaving: RowInterleaving(base: base, rows: rows, headerBytes: headerBytes), decode: base.decode)
    }

    /// The type's ``name``.
    public var description: String { name }
    /// Whether values are stored in quantised blocks (and so decode lossily to floats).
    public var isQuantized: Bool { category == .quantized }
    /// Bytes per element for plain types; nil for block types.
    public var scalarBytes: Int? { blockElements == 1 ? blockBytes : nil }
    /// Storage cost per value, scales and other block headers included (4.5 for ``q4_0``).
    /// Storage cost per value, scales and other block headers included (4.5 for ``q4_0``).
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockElements) }

    /// Types are equal when their stable ids are: there is one value per id in the registry.
    public static func == (a: ElementType, b: ElementType) -> Bool { a.id == b.id }
    /// Hashes the stable id, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The byte length of a tensor of this type and shape (outermost dimension first).
    /// Block types need the innermost dimension to be a whole number of blocks. Interleaved
    /// types store the rows (the product of the outer dimensions) rounded up to whole groups.
    ///
    /// - Throws: ``KilnError`` (`.malformed`) for a negative dimension, an innermost dimension
    ///   that is not a whole number of blocks, or a length that overflows `Int`.
    public func byteCount(shape: [Int]) throws -> Int {
        var elements = 1
        for dimension in shape {
            guard dimension >= 0 else { throw KilnError.malformed("negative dimension \(dimension) in shape \(shape)") }
            elements = try Checked.multiply(elements, dimension, "element count of shape \(shape)")
        }
        if blockElements > 1 {
            let inner = shape.last ?? 1
            guard !shape.isEmpty, inner % blockElements == 0 else {
                throw KilnError.malformed(
                    "type \(name) stores blocks of \(blockElements) values, so the innermost dimension must be a multiple of \(blockElements); shape is \(shape)")
            }
        }
        if let interleaving {
            let rows = try shape.dropLast().reduce(1) { try Checked.multiply($0, $1, "row count of shape \(shape)") }
            let storedRows = try Checked.multiply((rows + interleaving.rows - 1) / interleaving.rows, interleaving.rows, "rows of shape \(shape)")
            let blocks = try Checked.multiply(storedRows, shape.last! / blockElements, "block count of shape \(shape)")
            return try Checked.multiply(blocks, blockBytes, "byte length of shape \(shape) as \(name)")
        }
        return try Checked.multiply(elements / blockElements, blockBytes, "byte length of shape \(shape) as \(name)")
    }

    /// Decodes `blocks` whole blocks at `source` into `blocks × blockElements` floats (a row of
    /// a matrix, an embedding). The caller guarantees the memory is there. For interleaved types
    /// the bytes must be in the base type's row-major layout (`RowInterleaving.extractRow`).
    @inlinable
    package func decodeBlocks(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        decode(source, blocks, destination)
    }

    /// Decodes a whole tensor of this shape to f32 values (row-major, padding rows dropped).
    ///
    /// - Throws: ``KilnError`` (`.usage`) when `bytes` is not exactly such a tensor's length.
    public func dequantize(_ bytes: UnsafeRawBufferPointer, shape: [Int]) throws -> [Float] {
        guard let interleaving else { return try dequantize(bytes, elementCount: shape.reduce(1, *)) }
        guard try byteCount(shape: shape) == bytes.count else {
            throw KilnError(.usage, "\(bytes.count) bytes do not hold a \(name) tensor of shape \(shape)")
        }
        let cols = shape.last!
        let rows = cols == 0 ? 0 : shape.reduce(1, *) / cols
        guard rows > 0, cols > 0 else { return [] }
        let rowMajor = UnsafeMutableRawPointer.allocate(byteCount: rows * (cols / blockElements) * blockBytes, alignment: 16)
        defer { rowMajor.deallocate() }
        interleaving.deinterleave(bytes.baseAddress!, rows: rows, cols: cols, into: rowMajor)
        return [Float](unsafeUninitializedCapacity: rows * cols) { buffer, initialized in
            decode(rowMajor, rows * cols / blockElements, buffer.baseAddress!)
            initialized = rows * cols
        }
    }

    /// Decodes a whole tensor's bytes to f32 values. Interleaved types need the shape:
    /// use ``dequantize(_:shape:)``.
    ///
    /// - Throws: ``KilnError`` (`.usage`) when `bytes` does not hold exactly `elementCount`
    ///   values, or the type is interleaved.
    public func dequantize(_ bytes: UnsafeRawBufferPointer, elementCount: Int) throws -> [Float] {
        guard interleaving == nil else {
            throw KilnError(.usage, "\(name) stores rows in groups; dequantizing it needs the tensor's shape")
        }
        guard elementCount % blockElements == 0, (elementCount / blockElements) * blockBytes == bytes.count else {
            throw KilnError(.usage, "\(bytes.count) bytes do not hold \(elementCount) values of type \(name)")
        }
        guard elementCount > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            decode(bytes.baseAddress!, elementCount / blockElements, buffer.baseAddress!)
            initialized = elementCount
        }
    }
}

extension ElementType {
    /// The type with this name (`"q4_0"`, `"F16"`: case is ignored), or nil if Kiln has none.
    /// The type with this name (`"q4_0"`, `"F16"`: case is ignored), or nil if Kiln has none.
    public static func named(_ name: String) -> ElementType? { byName[name.lowercased()] }
    package static func withID(_ id: UInt32) -> ElementType? { byID[id] }
    /// The interleaved layout that stores this row-major block type, if the registry has one.
    public var interleavedVariant: ElementType? { Self.registry.first { $0.interleaving?.base == self } }

    private static let byName: [String: ElementType] = Dictionary(uniqueKeysWithValues: registry.map { ($0.name, $0) })
    private static let byID: [UInt32: ElementType] = Dictionary(uniqueKeysWithValues: registry.map { ($0.id, $0) })
}
