import CKilnKernels
import Foundation

/// The cosines and sines of RoPE's angles for positions 0 ..< `capacity`, each position computed
/// on first use and then kept: every layer rotates its queries and keys at the same positions, so
/// a forward pass computes them once instead of once per layer (the double-precision `pow`, `cos`
/// and `sin` were a few percent of a prompt). Same values as `Kernels.rope` computes per call.
package final class RopeAngles: @unchecked Sendable {
    // Sendable: used by one inference state at a time, as the state itself is.
    package let rotaryDims: Int
    package let base: Float
    package let freqScale: Float
    package let capacity: Int
    /// Each pair's angular frequency and the cosines' and sines' factor, when given explicitly
    /// (scaled RoPE: Llama 3, YaRN); nil means base^(−2i/rotaryDims) · freqScale and 1.
    package let frequencies: [Double]?
    package let magnitude: Float
    private let values: UnsafeMutablePointer<Float>
    private var filled: [Bool]

    package init(rotaryDims: Int, base: Float, freqScale: Float, capacity: Int) {
        precondition(rotaryDims >= 0 && rotaryDims % 2 == 0 && capacity >= 0)
        self.rotaryDims = rotaryDims
        self.base = base
        self.freqScale = freqScale
        self.capacity = capacity
        frequencies = nil
        magnitude = 1
        values = .allocate(capacity: max(1, rotaryDims * capacity))
        filled = [Bool](repeating: false, count: capacity)
    }

    /// Angles position · `frequencies[i]`, cosines and sines multiplied by `magnitude`.
    package init(frequencies: [Double], magnitude: Float, capacity: Int) {
        precondition(capacity >= 0)
        rotaryDims = 2 * frequencies.count
        base = 0
        freqScale = 1
        self.capacity = capacity
        self.frequencies = frequencies
        self.magnitude = magnitude
        values = .allocate(capacity: max(1, rotaryDims * capacity))
        filled = [Bool](repeating: false, count: capacity)
    }

    deinit { values.deallocate() }

    /// Position `position`'s rotaryDims/2 cosines, then its rotaryDims/2 sines.
    func angles(_ position: Int) -> UnsafePointer<Float> {
        precondition(position >= 0 && position < capacity, "position \(position) outside 0..<\(capacity)")
        let row = values + position * rotaryDims
        if !filled[position] {
            if let frequencies {
                let pairs = frequencies.count
                for (i, frequency) in frequencies.enumerated() {
                    let theta = Double(position) * frequency
                    row[i] = Float(cos(theta)) * magnitude
                    row[pairs + i] = Float(sin(theta)) * magnitude
                }
            } else {
                kiln_rope_angles(Int64(rotaryDims), Int64(position), base, freqScale, row)
            }
            filled[position] = true
        }
        return UnsafePointer(row)
    }
}
