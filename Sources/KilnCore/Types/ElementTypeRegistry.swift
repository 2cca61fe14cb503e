/// The registry of element types: each type's facts in one entry — id, name, block shape, decoder,
/// interleaved twin, ggml id. Ids are stable: they are written into `.kiln` files. docs/FORMAT.md
/// §Element types lists the same table. Adding a type is an entry here (and, with kernels, one in
/// the C side's table, `kiln_weight_types` in CKilnKernels/types.c, under the same name); the
/// readers, writers, GGUF mapping, kernels' codes and benchmark all derive from these.
extension ElementType {
    /// IEEE 754 single precision, 4 bytes: the type every other type decodes to.
    public static let f32 = plain(0, "f32", .float, Float.self, ggml: 0) { $0 }
    /// IEEE 754 half precision, 2 bytes: the usual type of published checkpoints.
    public static let f16 = plain(1, "f16", .float, UInt16.self, ggml: 1) { HalfPrecision.floatFromHalf($0) }
    /// bfloat16, 2 bytes: f32's exponent with a 7-bit mantissa, as trained models often store weights.
    public static let bf16 = plain(2, "bf16", .float, UInt16.self, ggml: 30) { HalfPrecision.floatFromBFloat($0) }
    /// IEEE 754 double precision, 8 bytes; decoded to f32 (values beyond its range become infinite).
    public static let f64 = plain(3, "f64", .float, Double.self, ggml: 28) { Float($0) }
    /// Signed 8-bit integers (token ids, masks and other non-weight tensors).
    public static let i8 = plain(16, "i8", .signedInteger, Int8.self, ggml: 24) { Float($0) }
    /// Signed 16-bit integers.
    public static let i16 = plain(17, "i16", .signedInteger, Int16.self, ggml: 25) { Float($0) }
    /// Signed 32-bit integers.
    public static let i32 = plain(18, "i32", .signedInteger, Int32.self, ggml: 26) { Float($0) }
    /// Signed 64-bit integers (PyTorch's default for index tensors); decoded to the nearest f32.
    public static let i64 = plain(19, "i64", .signedInteger, Int64.self, ggml: 27) { Float($0) }
    /// Unsigned 8-bit integers.
    public static let u8 = plain(20, "u8", .unsignedInteger, UInt8.self) { Float($0) }
    /// Unsigned 16-bit integers.
    public static let u16 = plain(21, "u16", .unsignedInteger, UInt16.self) { Float($0) }
    /// Unsigned 32-bit integers.
    public static let u32 = plain(22, "u32", .unsignedInteger, UInt32.self) { Float($0) }
    /// Unsigned 64-bit integers; decoded to the nearest f32.
    public static let u64 = plain(23, "u64", .unsignedInteger, UInt64.self) { Float($0) }
    /// Booleans, one byte each: 0 is false, anything else true (decoded as 0 or 1).
    public static let bool = plain(24, "bool", .boolean, UInt8.self) { $0 == 0 ? 0 : 1 }

    /// GGUF's `Q8_0`: 32 values as 8-bit integers with an f16 scale, 8.5 bits per weight.
    /// One of the GGUF-compatible block types (layouts in docs/FORMAT.md §Quantised blocks),
    /// byte for byte the same as llama.cpp's, so GGUF tensors are carried over without requantising.
    public static let q8_0 = ElementType(id: 64, name: "q8_0", category: .quantized, blockElements: 32, blockBytes: 34, ggml: 8, decode: BlockDecoders.q8_0)
    /// GGUF's `Q4_0`: 32 values as 4-bit integers with an f16 scale, 4.5 bits per weight.
    public static let q4_0 = ElementType(id: 65, name: "q4_0", category: .quantized, blockElements: 32, blockBytes: 18, ggml: 2, decode: BlockDecoders.q4_0)
    /// GGUF's `Q4_1`: 32 values as 4-bit integers with an f16 scale and minimum, 5 bits per weight.
    public static let q4_1 = ElementType(id: 66, name: "q4_1", category: .quantized, blockElements: 32, blockBytes: 20, ggml: 3, decode: BlockDecoders.q4_1)
    /// GGUF's `Q5_0`: 32 values as 5-bit integers with an f16 scale, 5.5 bits per weight.
    public static let q5_0 = ElementType(id: 67, name: "q5_0", category: .quantized, blockElements: 32, blockBytes: 22, ggml: 6, decode: BlockDecoders.q5_0)
    /// GGUF's `Q5_1`: 32 values as 5-bit integers with an f16 scale and minimum, 6 bits per weight.
    public static let q5_1 = ElementType(id: 68, name: "q5_1", category: .quantized, blockElements: 32, blockBytes: 24, ggml: 7, decode: BlockDecoders.q5_1)

    /// Kiln's own 4-bit type: 4.5 bits per weight, a log-scaled 8-bit scale per 16 values and
    /// a non-uniform 16-level grid; works for any row length that is a multiple of 32
    /// (docs/FORMAT.md §7.3).
    public static let kq4 = ElementType(id: 72, name: "kq4", category: .quantized, blockElements: 32, blockBytes: 18, decode: KQ4.decode)

    /// GGUF's `Q2_K`: 2-bit values in 16 sub-blocks with 4-bit scales and minimums, 2.625 bits
    /// per weight. One of the GGUF-compatible "K-quant" super-block types, 256 values a block
    /// (docs/FORMAT.md §7.2): rows must be a multiple of 256 long.
    public static let q2_k = ElementType(id: 80, name: "q2_k", category: .quantized, blockElements: 256, blockBytes: 84, ggml: 10, decode: KQuantDecoders.q2_K)
    /// GGUF's `Q3_K`: 3-bit values in 16 sub-blocks with 6-bit scales, 3.44 bits per weight.
    public static let q3_k = ElementType(id: 81, name: "q3_k", category: .quantized, blockElements: 256, blockBytes: 110, ggml: 11, decode: KQuantDecoders.q3_K)
    /// GGUF's `Q4_K`: 4-bit values in 8 sub-blocks with 6-bit scales and minimums, 4.5 bits per weight.
    public static let q4_k = ElementType(id: 82, name: "q4_k", category: .quantized, blockElements: 256, blockBytes: 144, ggml: 12, decode: KQuantDecoders.q4_K)
    /// GGUF's `Q5_K`: 5-bit values in 8 sub-blocks with 6-bit scales and minimums, 5.5 bits per weight.
    public static let q5_k = ElementType(id: 83, name: "q5_k", category: .quantized, blockElements: 256, blockBytes: 176, ggml: 13, decode: KQuantDecoders.q5_K)
    /// GGUF's `Q6_K`: 6-bit values in 16 sub-blocks with 8-bit scales, 6.56 bits per weight.
    public static let q6_k = ElementType(id: 84, name: "q6_k", category: .quantized, blockElements: 256, blockBytes: 210, ggml: 14, decode: KQuantDecoders.q6_K)
    /// GGUF's `Q8_K`: 8-bit values with an f32 scale and per-16 sums (llama.cpp's activation type).
    public static let q8_k = ElementType(id: 85, name: "q8_k", category: .quantized, blockElements: 256, blockBytes: 292, ggml: 15, decode: KQuantDecoders.q8_K)

    /// ``q8_0`` blocks of 8 rows interleaved for the kernels; the same values as ``q8_0``.
    /// The interleaved layouts store the blocks of 8 rows together (docs/FORMAT.md §7.4), so one
    /// pass of a matrix kernel reads 8 rows' blocks from one stream; the runtime repacks weights
    /// into them at load, and a `.kiln` file may store them directly.
    public static let q8_0x8 = ElementType(id: 96, name: "q8_0x8", interleaving: q8_0, rows: 8, headerBytes: 2)
    /// ``q4_0`` blocks of 8 rows interleaved for the kernels; the same values as ``q4_0``.
    public static let q4_0x8 = ElementType(id: 97, name: "q4_0x8", interleaving: q4_0, rows: 8, headerBytes: 2)
    /// ``q4_1`` blocks of 8 rows interleaved for the kernels; the same values as ``q4_1``.
    public static let q4_1x8 = ElementType(id: 98, name: "q4_1x8", interleaving: q4_1, rows: 8, headerBytes: 4)
    /// ``kq4`` blocks of 8 rows interleaved for the kernels; the same values as ``kq4``.
    // kq4's two exponent bytes travel as one 2-byte field; q5's `qh` is the first 4-byte chunk.
    public static let kq4x8 = ElementType(id: 99, name: "kq4x8", interleaving: kq4, rows: 8, headerBytes: 2)
    /// ``q5_0`` blocks of 8 rows interleaved for the kernels; the same values as ``q5_0``.
    public static let q5_0x8 = ElementType(id: 100, name: "q5_0x8", interleaving: q5_0, rows: 8, headerBytes: 2)
    /// ``q5_1`` blocks of 8 rows interleaved for the kernels; the same values as ``q5_1``.
    public static let q5_1x8 = ElementType(id: 101, name: "q5_1x8", interleaving: q5_1, rows: 8, headerBytes: 4)

    /// Every element type Kiln knows, in id order: what ``named(_:)`` searches, and the table
    /// docs/FORMAT.md lists.
    public static let registry: [ElementType] = [
        f32, f16, bf16, f64, i8, i16, i32, i64, u8, u16, u32, u64, bool,
        q8_0, q4_0, q4_1, q5_0, q5_1, kq4,
        q2_k, q3_k, q4_k, q5_k, q6_k, q8_k,
        q8_0x8, q4_0x8, q4_1x8, kq4x8, q5_0x8, q5_1x8,
    ]

    private static func plain<T>(
        _ id: UInt32, _ name: String, _ category: Category, _: T.Type, ggml: UInt32? = nil, _ toFloat: @escaping @Sendable (T) -> Float
    ) -> ElementType {
        ElementType(id: id, name: name, category: category, blockElements: 1, blockBytes: MemoryLayout<T>.size, ggml: ggml) { source, count, destination in
            for i in 0..<count {
                destination[i] = toFloat(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self))
            }
        }
    }
}
