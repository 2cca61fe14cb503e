import Foundation

extension ModelConfig {
    /// RoPE's angular frequency per rotary pair (angle = position × frequency) and the factor its
    /// cosines and sines are multiplied by, for a local (sliding-window) or global layer: the base
    /// (``localRopeBase`` for local layers, which are then not scaled), linear ``ropeScale``, then
    /// ``ropeScaling``. Formulas as transformers'
    /// `modeling_rope_utils` computes them.
    package func ropeFrequencies(local: Bool) -> (frequencies: [Double], magnitude: Double) {
        let dims = ropeDimensions, pairs = dims / 2
        // Layers with a base of their own (Gemma 3's local ones) are never scaled.
        let own = local && localRopeBase != nil
        let base = own ? localRopeBase! : ropeBase
        var frequencies = (0..<pairs).map { pow(base, -2 * Double($0) / Double(dims)) / (own ? 1 : ropeScale) }
        guard !own else { return (frequencies, 1) }
        switch ropeScaling {
        case .none:
            return (frequencies, 1)
        case .llama3(let factor, let low, let high, let original):
            let lowWavelength = Double(original) / low, highWavelength = Double(original) / high
            frequencies = frequencies.map { frequency in
                let wavelength = 2 * Double.pi / frequency
                if wavelength < highWavelength { return frequency }
                if wavelength > lowWavelength { return frequency / factor }
                let smooth = (Double(original) / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
            return (frequencies, 1)
        case .yarn(let factor, let original, let betaFast, let betaSlow, let attentionFactor):
            func correctionDim(_ rotations: Double) -> Double {
                Double(dims) * log(Double(original) / (rotations * 2 * Double.pi)) / (2 * log(base))
            }
            let low = max(floor(correctionDim(betaFast)), 0)
            var high = min(ceil(correctionDim(betaSlow)), Double(dims - 1))
            if low == high { high += 0.001 }
            frequencies = frequencies.enumerated().map { i, frequency in
                let ramp = min(max((Double(i) - low) / (high - low), 0), 1)
                let extrapolation = 1 - ramp
                return frequency / factor * (1 - extrapolation) + frequency * extrapolation
            }
            return (frequencies, attentionFactor)
        case .factors(let factors):
            return (zip(frequencies, factors).map { $0 / $1 }, 1)
        }
    }

    /// YaRN's default attention factor for a scaling `factor` (transformers' `get_mscale`).
    package static func yarnAttentionFactor(_ factor: Double, mscale: Double = 1) -> Double {
        factor <= 1 ? 1 : 0.1 * mscale * log(factor) + 1
    }
}
