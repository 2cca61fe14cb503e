import KilnCore

/// ggml's tensor type ids (`enum ggml_type` in ggml.h) as GGUF stores them, and the Kiln
/// element type each supported one is carried as. Block layouts are byte-identical, so GGUF
/// tensors are copied, never requantised.
enum GGUFTensorType {
    /// The ids Kiln reads, with the element type of the same layout (the registry's `ggmlType`).
    static let supported: [UInt32: ElementType] = Dictionary(
        uniqueKeysWithValues: ElementType.registry.compactMap { type in type.ggmlType.map { ($0, type) } })

    /// Every id ggml has defined, so an unsupported type is reported by name. Ids 4–5, 31–33 and
    /// 36–38 belonged to types ggml has since removed from files.
    static let names: [UInt32: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_2", 5: "Q4_3", 6: "Q5_0", 7: "Q5_1",
        8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
        16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
        23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
        31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8", 34: "TQ1_0", 35: "TQ2_0",
        36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0", 42: "Q2_0",
    ]

    /// The element type for GGUF type `id`: `.unsupported` for a type ggml defines but Kiln does
    /// not handle, `.malformed` for an id no ggml version has used.
    static func elementType(_ id: UInt32) throws -> ElementType {
        if let type = supported[id] { return type }
        if let name = names[id] {
            throw KilnError(.unsupported, "GGUF type \(name) (\(id)) is not supported")
        }
        throw KilnError.malformed("unknown GGUF tensor type \(id); known types are 0–\(names.keys.max()!)")
    }
}
