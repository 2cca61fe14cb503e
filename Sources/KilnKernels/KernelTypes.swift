import CKilnKernels
import KilnCore

/// A row-major `[rows, cols]` weight matrix in any element type, viewed in place (usually in a
/// mapped `.kiln` file). Blocks tile each row; interleaved types store groups of 8 rows together
/// (docs/FORMAT.md §7.4) and need no other handling by callers.
package struct WeightMatrix: @unchecked Sendable {
    // Sendable: a read-only view; the caller keeps the bytes alive and unchanged while in use.
    package let type: ElementType
    package let rows: Int
    package let cols: Int
    package let data: UnsafeRawPointer
    /// Elements from one row's start to the next: `cols`, or more for a view of the first `cols`
    /// columns of a wider float matrix (the KV cache's transposed values).
    package private(set) var rowStride: Int

    package init(type: ElementType, rows: Int, cols: Int, data: UnsafeRawPointer) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape [\(rows), \(cols)]")
        precondition(cols % type.blockElements == 0, "\(type.name) rows must be whole blocks of \(type.blockElements); cols is \(cols)")
        self.type = type
        self.rows = rows
        self.cols = cols
        self.data = data
        rowStride = cols
    }

    /// A float matrix (f32, f16, bf16) whose rows lie `rowStride` elements apart.
    package init(type: ElementType, rows: Int, cols: Int, rowStride: Int, data: UnsafeRawPointer) {
        precondition(type.blockElements == 1 && !type.isQuantized && rowStride >= cols, "strided views are of float matrices, stride ≥ cols")
        self.init(type: type, rows: rows, cols: cols, data: data)
        self.rowStride = rowStride
    }

    /// Runs `body` with a strided view's rows copied side by side, for the paths that take only
    /// contiguous rows (the reference tier, the dequantising fallback).
    func withContiguousRows<R>(_ body: (WeightMatrix) -> R) -> R {
        let element = type.blockBytes
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, rows * cols * element), alignment: 64)
        defer { copy.deallocate() }
        for r in 0..<rows { (copy + r * cols * element).copyMemory(from: data + r * rowStride * element, byteCount: cols * element) }
        return body(WeightMatrix(type: type, rows: rows, cols: cols, data: UnsafeRawPointer(copy)))
    }

    /// The bytes the matrix occupies (interleaved types: padded to whole row groups).
    package var byteCount: Int { (try? type.byteCount(shape: [rows, cols])) ?? 0 }

    /// The base type of an interleaved layout, else the type itself.
    var rowMajorType: ElementType { type.interleaving?.base ?? type }

    /// Runs `body` with row `r`'s bytes in the row-major layout of `rowMajorType`: in place, or
    /// gathered from its row group into `scratch` (one row's bytes).
    func withRowMajorRow<R>(_ r: Int, scratch: UnsafeMutableRawPointer, _ body: (UnsafeRawPointer) -> R) -> R {
        guard let interleaving = type.interleaving else { return body(data + r * (cols / type.blockElements * type.blockBytes)) }
        interleaving.extractRow(data, row: r, cols: cols, into: scratch)
        return body(scratch)
    }

    /// The C kernels' code for this layout, nil when only the dequantising fallback handles it.
    var kernelCode: Int32? { Self.kernelCode(type) }

    /// The C kernels' code for `type`, nil when only the dequantising fallback handles it: the
    /// entry of the C type table (`kiln_weight_type`) with the registry's name for the type.
    static func kernelCode(_ type: ElementType) -> Int32? { codes[type.id] }

    private static let codes: [UInt32: Int32] = {
        var codes: [UInt32: Int32] = [:]
        for code in 0..<Int32(KILN_WEIGHT_COUNT) {
            guard let traits = kiln_weight_type(code), let type = ElementType.named(String(cString: traits.pointee.name)) else {
                preconditionFailure("C weight type \(code) has no ElementType of its name")
            }
            precondition(traits.pointee.block_values == type.blockElements && traits.pointee.block_bytes == type.blockBytes,
                         "C weight type \(type.name) disagrees with the registry on its block shape")
            codes[type.id] = code
        }
        return codes
    }()

    /// Every element type the C kernels take, in the registry's order.
    package static var kernelTypes: [ElementType] { ElementType.registry.filter { codes[$0.id] != nil } }

    /// Whether products with `type` quantise the activations to int8 blocks of 32 first (every
    /// quantised type with a kernel); the others multiply in f32.
    package static func quantizesActivations(_ type: ElementType) -> Bool {
        type.isQuantized && kernelCode(type) != nil
    }
}

/// Which elements RoPE rotates together (llama.cpp's modes): `normal` rotates adjacent pairs
/// (2i, 2i+1) (Llama as GGUF stores it); `neox` rotates (i, i + rotaryDims/2) (GPT-NeoX, and
/// Llama as Hugging Face stores it).
package enum RopeMode: Sendable {
    case normal, neox
}

/// The 16-bit float formats the conversions handle.
package enum HalfFormat: Sendable {
    case f16, bf16
}

/// How a KV cache stores keys and values: f32, or f16 (`--kv-cache f16`, kiln-run's default: half the memory).
package enum KVPrecision: Sendable { case f32, f16 }
