import CKilnKernels
import Foundation

/// One implementation of every kernel. `reference` is scalar Swift, the oracle the others are
/// tested against; `portable` is the C target's generic code built with no ISA flags; `avx2`
/// (x86-64 with AVX2, FMA and F16C) and `neon` (arm64; SDOT used when the CPU has it) are the C
/// target's SIMD code in functions with per-function target attributes; `avxvnni` is the avx2
/// tier with AVX-VNNI's `vpdpbusd` for the integer dots where the CPU has it; `avx512` is the
/// avx2 tier with 512-bit kernels (AVX-512 F/BW/VL/DQ/VNNI) for the compute-bound prompt batches;
/// `avx512vbmi` is the avx512 tier where VBMI's byte permutes decode kq4 and q5 blocks, and GFNI's
/// affine step q4 blocks, in fewer instructions (Ice Lake, Sapphire Rapids, Zen 4 on).
public enum KernelTier: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Scalar Swift: the oracle the other tiers are tested against.
    case reference
    /// The C kernels built with no instruction-set flags: runs on any CPU.
    case portable
    /// x86-64 with AVX2, FMA and F16C.
    case avx2
    /// ``avx2`` with AVX-VNNI's integer dot products.
    case avxvnni
    /// ``avx2`` with 512-bit kernels (AVX-512 F/BW/VL/DQ/VNNI) for prompt batches.
    case avx512
    /// ``avx512`` with VBMI's byte permutes for kq4 and q5 blocks and GFNI for q4 blocks.
    case avx512vbmi
    /// arm64 NEON, with SDOT where the CPU has it.
    case neon

    /// The tier's name, as `KILN_KERNEL_TIER` and `kiln-run bench` spell it.
    public var description: String { rawValue }

    /// The environment variable that forces a tier: `KILN_KERNEL_TIER=reference|portable|avx2|avxvnni|avx512|avx512vbmi|neon`.
    public static let environmentVariable = "KILN_KERNEL_TIER"

    /// The tiers this machine can run, slowest first.
    public static let supported: [KernelTier] = allCases.filter(\.isSupported)

    /// Whether this build and CPU can run the tier.
    public var isSupported: Bool { self == .reference || cTier.flatMap { kiln_ops_for_tier($0) } != nil }

    /// The tier the kernels use in this process: the one `KILN_KERNEL_TIER` forces, else the
    /// fastest supported. Chosen once, at first use.
    public static let selected: KernelTier = select(environment: ProcessInfo.processInfo.environment) { message in
        FileHandle.standardError.write(Data("kiln: \(message)\n".utf8))
    }

    /// The choice rule, separate from the process environment so it can be tested. A forced tier
    /// the machine cannot run is reported through `warn` and the fastest supported one is used.
    package static func select(environment: [String: String], warn: (String) -> Void) -> KernelTier {
        let fastest = supported.last!
        guard let forced = environment[environmentVariable], !forced.isEmpty else { return fastest }
        guard let tier = KernelTier(rawValue: forced.lowercased()) else {
            warn("\(environmentVariable)=\(forced) is not a tier (reference, portable, avx2, avxvnni, avx512, avx512vbmi, neon); using \(fastest)")
            return fastest
        }
        guard tier.isSupported else {
            warn("\(environmentVariable)=\(forced): this machine cannot run that tier; using \(fastest)")
            return fastest
        }
        return tier
    }

    /// The C tier number, nil for the Swift reference.
    var cTier: Int32? {
        switch self {
        case .reference: return nil
        case .portable: return Int32(KILN_TIER_PORTABLE)
        case .avx2: return Int32(KILN_TIER_AVX2)
        case .avxvnni: return Int32(KILN_TIER_AVX_VNNI)
        case .avx512: return Int32(KILN_TIER_AVX512)
        case .avx512vbmi: return Int32(KILN_TIER_AVX512_VBMI)
        case .neon: return Int32(KILN_TIER_NEON)
        }
    }
}
