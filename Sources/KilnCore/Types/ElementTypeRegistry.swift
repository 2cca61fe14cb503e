/// The registry of element types: each type's facts in one entry — id, name, block shape, decoder,
/// interleaved twin, ggml id. Ids are stable: they are written into `.kiln` files. docs/FORMAT.md
/// §Element types lists the same table. Adding a type is an entry here (and, with kernels, one in
/// the C side's table, `kiln_weight_types` in CKilnKernels/types.c, under the same name); the
/// readers, writers, GGUF mapping, kernels' codes and benchmark all derive from these.
extension ElementType {
    public static let f32 = plain(0, "f32", .float, Float.self, ggml: 0) { $0 }
    public static let f16 = plain(1, "f16", .float, UInt16.self, ggml: 1) { HalfPrecision.floatFromHalf($0) }
    public static let bf16 = plain(2, "bf16", .float, UInt16.self, ggml: 30) { HalfPrecision.floatFromBFloat($0) }
    public static let f64 = plain(3, "f64", .float, Double.self, ggml: 28) { Float($0) }
    public static let i8 = plain(16, "i8", .signedInteger, Int8.self, ggml: 24) { Float($0) }
    public static let i16 = plain(17, "i16", .signedInteger, Int16.self, ggml: 25) { Float($0) }
    public static let i32 = plain(18, "i32", .signedInteger, Int32.self, ggml: 26) { Float($0) }
    public static let i64 = plain(19, "i64", .signedInteger, Int64.self, ggml: 27) { Float($0) }
    public static let u8 = plain(20, "u8", .unsignedInteger, UInt8.self) { Float($0) }
    public static let u16 = plain(21, "u16", .unsignedInteger, UInt16.self) { Float($0) }
    public static let u32 = plain(22, "u32", .unsignedInteger, UInt32.self) { Float($0) }
    public static let u64 = plain(23, "u64", .unsignedInteger, UInt64.self) { Float($0) }
    public static let bool = plain(24, "bool", .boolean, UInt8.self) { $0 == 0 ? 0 : 1 }

    /// GGUF-compatible block types (layouts in docs/FORMAT.md §Quantised blocks).
    public static let q8_0 = ElementType(id: 64, name: "q8_0", category: .quantized, blockElements: 32, blockBytes: 34, ggml: 8, decode: BlockDecoders.q8_0)
    public static let q4_0 = ElementType(id: 65, name: "q4_0", category: .quantized, blockElements: 32, blockBytes: 18, ggml: 2, decode: BlockDecoders.q4_0)
    public static let q4_1 = ElementType(id: 66, name: "q4_1", category: .quantized, blockElements: 32, blockBytes: 20, ggml: 3, decode: BlockDecoders.q4_1)
    public static let q5_0 = ElementType(id: 67, name: "q5_0", category: .quantized, blockElements: 32, blockBytes: 22, ggml: 6, decode: BlockDecoders.q5_0)
    public static let q5_1 = ElementType(id: 68, name: "q5_1", category: .quantized, blockElements: 32, blockBytes: 24, ggml: 7, decode: BlockDecoders.q5_1)

    /// Kiln's own 4-bit type: 4.5 bits per weight, a log-scaled 8-bit scale per 16 values and
    /// a non-uniform 16-level grid; works for any row length that is a multiple of 32
    /// (docs/FORMAT.md §7.3).
    public static let kq4 = ElementType(id: 72, name: "kq4", category: .quantized, blockElements: 32, blockBytes: 18, decode: KQ4.decode)

    /// GGUF-compatible "K-quant" super-block types, 256 values a block (docs/FORMAT.md §7.2).
    public static let q2_k = ElementType(id: 80, name: "q2_k", category: .quantized, blockElements: 256, blockBytes: 84, ggml: 10, decode: KQuantDecoders.q2_K)
    public static let q3_k = ElementType(id: 81, name: "q3_k", category: .quantized, blockElements: 256, blockBytes: 110, ggml: 11, decode: KQuantDecoders.q3_K)
    public static let q4_k = ElementType(id: 82, name: "q4_k", category: .quantized, blockElements: 256, blockBytes: 144, ggml: 12, decode: KQuantDecoders.q4_K)
    public static let q5_k = ElementType(id: 83, name: "q5_k", category: .quantized, blockElements: 256, blockBytes: 176, ggml: 13, decode: KQuantDecoders.q5_K)
    public static let q6_k = ElementType(id: 84, name: "q6_k", category: .quantized, blockElements: 256, blockBytes: 210, ggml: 14, decode: KQuantDecoders.q6_K)
    public static let q8_k = ElementType(id: 85, name: "q8_k", category: .quantized, blockElements: 256, blockBytes: 292, ggml: 15, decode: KQuantDecoders.q8_K)

    /// The kernels' interleaved layouts: the blocks of 8 rows stored together (docs/FORMAT.md §7.4).
    public static let q8_0x8 = ElementType(id: 96, name: "q8_0x8", interleaving: q8_0, rows: 8, headerBytes: 2)
    public static let q4_0x8 = ElementType(id: 97, name: "q4_0x8", interleaving: q4_0, rows: 8, headerBytes: 2)
    public static let q4_1x8 = ElementType(id: 98, name: "q4_1x8", interleaving: q4_1, rows: 8, headerBytes: 4)
    /// kq4's two exponent bytes travel as one 2-byte field; q5's `qh` is the first 4-byte chunk.
    public static let kq4x8 = ElementType(id: 99, name: "kq4x8", interleaving: kq4, rows: 8, headerBytes: 2)
    public static let q5_0x8 = ElementType(id: 100, name: "q5_0x8", interleaving: q5_0, rows: 8, headerBytes: 2)
    public static let q5_1x8 = ElementType(id: 101, name: "q5_1x8", interleaving: q5_1, rows: 8, headerBytes: 4)

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
