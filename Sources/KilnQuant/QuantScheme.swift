import KilnCore

/// The quantisation schemes `kiln quantize` offers, each stored as one registered element type.
public enum QuantScheme: String, CaseIterable, Sendable {
    /// GGUF's 8-bit blocks: 8.5 bits per weight, almost lossless.
    case q8_0
    /// GGUF's 4-bit blocks with a scale: 4.5 bits per weight.
    case q4_0
    /// GGUF's 4-bit blocks with a scale and minimum: 5 bits per weight.
    case q4_1
    /// Kiln's own 4.5-bit type (``/KilnCore/ElementType/kq4``): less error than ``q4_0`` at the same size.
    case kq4
    /// GGUF's 5-bit blocks with a scale: 5.5 bits per weight.
    case q5_0
    /// GGUF's 5-bit blocks with a scale and minimum: 6 bits per weight.
    case q5_1
    /// GGUF's 2-bit K-quant super-blocks (256 values): 2.625 bits per weight.
    case q2_k
    /// GGUF's 3-bit K-quant super-blocks: 3.4375 bits per weight.
    case q3_k
    /// GGUF's 4-bit K-quant super-blocks, scales and minimums per 32 values: 4.5 bits per weight.
    case q4_k
    /// GGUF's 5-bit K-quant super-blocks: 5.5 bits per weight.
    case q5_k
    /// GGUF's 6-bit K-quant super-blocks: 6.5625 bits per weight.
    case q6_k
    /// Kept as f16 (for tensors a recipe wants at higher precision than any block scheme).
    case f16
    /// Kept as f32.
    case f32

    /// The element type the scheme stores.
    public var type: ElementType { Self.table(self).type }

    package var quantizer: (any BlockQuantizer)? { Self.table(self).quantizer }

    /// Each scheme's element type and writer, in one place: adding a scheme is a case and a row.
    private static func table(_ scheme: QuantScheme) -> (type: ElementType, quantizer: (any BlockQuantizer)?) {
        switch scheme {
        case .q8_0: return (.q8_0, Q8_0Quantizer())
        case .q4_0: return (.q4_0, Q4_0Quantizer())
        case .q4_1: return (.q4_1, Q4_1Quantizer())
        case .kq4: return (.kq4, KQ4Quantizer())
        case .q5_0: return (.q5_0, Q5_0Quantizer())
        case .q5_1: return (.q5_1, Q5_1Quantizer())
        case .q2_k: return (.q2_k, Q2_KQuantizer())
        case .q3_k: return (.q3_k, Q3_KQuantizer())
        case .q4_k: return (.q4_k, Q4_KQuantizer(bits: 4))
        case .q5_k: return (.q5_k, Q4_KQuantizer(bits: 5))
        case .q6_k: return (.q6_k, Q6_KQuantizer())
        case .f16: return (.f16, nil)
        case .f32: return (.f32, nil)
        }
    }

    /// What a tensor whose rows are not whole blocks of this scheme gets instead: llama-quantize's
    /// fallbacks for the K-quants (q4_k → q5_0, q5_k → q5_1, q6_k → q8_0, q2_k and q3_k → q4_0),
    /// 8 bits for the others; ``QuantRecipe/scheme(for:shape:)`` falls back to f16 when even that
    /// does not fit.
    public var fallback: QuantScheme {
        switch self {
        case .q2_k, .q3_k: return .q4_0
        case .q4_k: return .q5_0
        case .q5_k: return .q5_1
        default: return .q8_0
        }
    }

    /// The scheme with this name (`"q4_0"`, case ignored), or nil.
    public static func named(_ name: String) -> QuantScheme? {
        QuantScheme(rawValue: name.lowercased())
    }
}
