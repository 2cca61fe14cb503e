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
    /// Kept as f16 (for tensors a recipe wants at higher precision than any block scheme).
    case f16
    /// Kept as f32.
    case f32

    /// The element type the scheme stores.
    public var type: ElementType {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .kq4: return .kq4
        case .f16: return .f16
        case .f32: return .f32
        }
    }

    package var quantizer: (any BlockQuantizer)? {
        switch self {
        case .q8_0: return Q8_0Quantizer()
        case .q4_0: return Q4_0Quantizer()
        case .q4_1: return Q4_1Quantizer()
        case .kq4: return KQ4Quantizer()
        case .f16, .f32: return nil
        }
    }

    /// The scheme with this name (`"q4_0"`, case ignored), or nil.
    public static func named(_ name: String) -> QuantScheme? {
        QuantScheme(rawValue: name.lowercased())
    }
}
