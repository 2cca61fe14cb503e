/// One kind of tensor element: a plain number type, or a quantised block type whose
/// elements are stored in fixed-size blocks (`blockElements` values in `blockBytes` bytes).
///
/// Every type is described exactly once, in `ElementType.registry`; the `.kiln` reader and
/// writer, the format plugins, the dequantiser and the tools all look types up there.
public struct ElementType: Sendable, Hashable, CustomStringConvertible {
    public enum Category: String, Sendable {
        case float, signedInteger, unsignedInteger, boolean, quantized
    }

    /// The stable numeric id stored in `.kiln` files. Never reused.
    public let id: UInt32
    /// The stable name (`f32`, `q4_0`, …) used in files, on the command line and in reports.
    public let name: String
    public let category: Category
    /// Values per block: 1 for plain types.
    public let blockElements: Int
    /// Bytes per block.
    public let blockBytes: Int
    /// Decodes `blocks` whole blocks from `source` into `blocks * blockElements` floats.
    @usableFromInline
    let decode: @Sendable (_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) -> Void

    public var description: String { name }
    public var isQuantized: Bool { category == .quantized }
    /// Bytes per element for plain types; nil for block types.
    public var scalarBytes: Int? { blockElements == 1 ? blockBytes : nil }
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockElements) }

    public static func == (a: ElementType, b: ElementType) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The byte length of a tensor of this type and shape (outermost dimension first).
    /// Block types need the innermost dimension to be a whole number of blocks.
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
        return try Checked.multiply(elements / blockElements, blockBytes, "byte length of shape \(shape) as \(name)")
    }

    /// Decodes `blocks` whole blocks at `source` into `blocks × blockElements` floats (a row of
    /// a matrix, an embedding). The caller guarantees the memory is there.
    @inlinable
    public func decodeBlocks(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        decode(source, blocks, destination)
    }

    /// Decodes a whole tensor's bytes to f32 values.
    public func dequantize(_ bytes: UnsafeRawBufferPointer, elementCount: Int) throws -> [Float] {
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
    public static func named(_ name: String) -> ElementType? { byName[name.lowercased()] }
    public static func withID(_ id: UInt32) -> ElementType? { byID[id] }

    private static let byName: [String: ElementType] = Dictionary(uniqueKeysWithValues: registry.map { ($0.name, $0) })
    private static let byID: [UInt32: ElementType] = Dictionary(uniqueKeysWithValues: registry.map { ($0.id, $0) })
}
