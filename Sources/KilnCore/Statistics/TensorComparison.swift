import CKilnSupport
import Foundation

/// How far a tensor B is from a reference tensor A, element by element: the statistics
/// `kiln diff` prints for every matched tensor, and the ones a quantiser reports for each
/// tensor it writes (A = the original values, B = the dequantised result), so both speak the
/// same numbers computed by the same code.
///
/// Values are accumulated in `Double` a chunk at a time (`add`), and partial results from
/// several threads or chunks combine with `merge`, so a tensor never has to be decoded whole.
///
/// Definitions, over the `finiteElements` pairs where both values are finite (n):
/// - `maxAbs` = max |a − b|; `meanAbs` = Σ|a − b| / n; `rmse` = √(Σ(a − b)² / n)
/// - `relativeRMSE` = RMSE / RMS(A) = √(Σ(a − b)² / Σa²)
/// - `cosine` = Σab / (‖a‖·‖b‖)
/// - `snrDB` = 10·log₁₀(Σa² / Σ(a − b)²): A is the signal, the difference the noise
/// - an element is beyond tolerance when |a − b| > atol + rtol·|b| (`numpy.isclose(a, b)` with B
///   as numpy's `b`); with the default tolerance (0, 0) any numeric difference is beyond it.
///
/// Non-finite values are kept out of the sums: a NaN on both sides, or the same infinity on
/// both sides, counts as equal; any other pair with a NaN or infinity counts as unequal and
/// beyond tolerance, in `nonFiniteMismatches`, and makes `maxAbs` +∞. −0 and +0 are equal
/// values (their difference is 0).
///
/// Degenerate cases: with no finite pairs every mean is 0; `relativeRMSE` is 0 when nothing
/// differs and +∞ when A is all zeros but B is not; `cosine` is 1 when both sides are all
/// zeros and 0 when only one is; `snrDB` is +∞ when nothing differs.
public struct TensorComparison: Sendable, Equatable {
    /// `numpy.isclose`'s test: `|a − b| ≤ absolute + relative·|b|`.
    public struct Tolerance: Sendable, Equatable {
        /// The absolute term (numpy's `atol`).
        public var absolute: Double
        /// The factor of |b| added to it (numpy's `rtol`).
        public var relative: Double

        /// Any numeric difference counts.
        public static let exact = Tolerance(absolute: 0, relative: 0)

        /// A tolerance of `absolute + relative·|b|`.
        public init(absolute: Double = 0, relative: Double = 0) {
            self.absolute = absolute
            self.relative = relative
        }
    }

    /// The tolerance that ``beyondTolerance`` was counted with.
    public var tolerance: Tolerance
    /// Pairs seen, finite or not.
    public private(set) var elements = 0
    /// Pairs where both values are finite: the n of every mean.
    public private(set) var finiteElements = 0
    /// Pairs whose values differ at all (−0 and +0 do not; matching NaNs do not).
    public private(set) var unequal = 0
    /// Pairs that fail the ``tolerance`` test (non-finite mismatches included).
    public private(set) var beyondTolerance = 0
    /// Pairs where a NaN or infinity meets a different value (or whose difference overflows).
    public private(set) var nonFiniteMismatches = 0
    /// The largest |a − b| over finite pairs; +∞ if any pair is a non-finite mismatch.
    public private(set) var maxAbs: Double = 0
    package private(set) var sumAbs: Double = 0
    package private(set) var sumSquaredError: Double = 0
    package private(set) var sumSquaresA: Double = 0
    package private(set) var sumSquaresB: Double = 0
    package private(set) var sumProducts: Double = 0

    package init(tolerance: Tolerance = .exact) {
        self.tolerance = tolerance
    }

    /// The statistics of `elements` pairs known to be identical without reading them (equal
    /// bytes or checksums): every difference is 0, `cosine` 1, `snrDB` +∞. The sums of squares
    /// are not known, so they stay 0; do not merge this into a comparison of other data.
    package static func identical(elements: Int, tolerance: Tolerance = .exact) -> TensorComparison {
        var comparison = TensorComparison(tolerance: tolerance)
        comparison.elements = elements
        comparison.finiteElements = elements
        return comparison
    }

    /// Compares two whole tensors given as f32 values.
    public static func compare(_ a: [Float], _ b: [Float], tolerance: Tolerance = .exact) -> TensorComparison {
        var comparison = TensorComparison(tolerance: tolerance)
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in comparison.add(a, b) } }
        return comparison
    }

    // MARK: Accumulating

    package mutating func add(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) {
        precondition(a.count == b.count, "compared chunks must have the same length (\(a.count) vs \(b.count))")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return }
        accumulate(pa, pb, count: a.count)
    }

    package mutating func add(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) {
        precondition(a.count == b.count, "compared chunks must have the same length (\(a.count) vs \(b.count))")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return }
        accumulate(pa, pb, count: a.count)
    }

    /// Adds another part of the same tensor (another chunk, another thread's share).
    package mutating func merge(_ other: TensorComparison) {
        elements += other.elements
        finiteElements += other.finiteElements
        unequal += other.unequal
        beyondTolerance += other.beyondTolerance
        nonFiniteMismatches += other.nonFiniteMismatches
        maxAbs = Swift.max(maxAbs, other.maxAbs)
        sumAbs += other.sumAbs
        sumSquaredError += other.sumSquaredError
        sumSquaresA += other.sumSquaresA
        sumSquaresB += other.sumSquaresB
        sumProducts += other.sumProducts
    }

    /// Sums run in blocks of this many elements that are then added to the totals, so rounding
    /// error grows with (block + n / block) rather than n: results stay within ~1e-12 of
    /// numpy's pairwise float64 sums on any tensor size.
    private static let block = 1024

    /// One block's partial results.
    private struct BlockSums {
        var abs = 0.0, squaredError = 0.0, squaresA = 0.0, squaresB = 0.0, products = 0.0, peak = 0.0
        var finite = 0, differing = 0, beyond = 0, nonFinite = 0

        /// Every sum finite: no NaN or infinity met (they would have made a sum non-finite).
        var isFinite: Bool {
            (abs + squaredError + squaresA + squaresB + products).isFinite
        }

        mutating func add(_ other: BlockSums) {
            abs += other.abs
            squaredError += other.squaredError
            squaresA += other.squaresA
            squaresB += other.squaresB
            products += other.products
            peak = Swift.max(peak, other.peak)
            finite += other.finite
            differing += other.differing
            beyond += other.beyond
            nonFinite += other.nonFinite
        }
    }

    @inline(__always)
    private mutating func accumulate<T: BinaryFloatingPoint>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) {
        var start = 0
        while start < count {
            let end = Swift.min(start + Self.block, count)
            // Finite data (the usual case) takes the branch-free path; a block that meets a NaN
            // or infinity shows it in its sums and is redone element by element.
            var sums = fastBlock(a, b, start, end)
            if !sums.isFinite { sums = carefulBlock(a, b, start, end) }
            elements += end - start
            finiteElements += sums.finite
            unequal += sums.differing
            beyondTolerance += sums.beyond
            nonFiniteMismatches += sums.nonFinite
            maxAbs = Swift.max(maxAbs, sums.peak)
            sumAbs += sums.abs
            sumSquaredError += sums.squaredError
            sumSquaresA += sums.squaresA
            sumSquaresB += sums.squaresB
            sumProducts += sums.products
            start = end
        }
    }

    /// The sums of a block without checks for non-finite values, in C (CKilnSupport's
    /// kiln_compare_f32 / _f64: eight f64 lanes, AVX-512 or AVX2 where the CPU has them; 3–4× the
    /// Swift loop it replaced, and f32 pairs give the bits of the same values as f64).
    @inline(__always)
    private func fastBlock<T: BinaryFloatingPoint>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ start: Int, _ end: Int) -> BlockSums {
        var c = kiln_compare_sums()
        let count = end - start, atol = tolerance.absolute, rtol = tolerance.relative
        if T.self == Float.self {
            kiln_compare_f32(UnsafeRawPointer(a + start).assumingMemoryBound(to: Float.self),
                             UnsafeRawPointer(b + start).assumingMemoryBound(to: Float.self), Int64(count), atol, rtol, &c)
        } else if T.self == Double.self {
            kiln_compare_f64(UnsafeRawPointer(a + start).assumingMemoryBound(to: Double.self),
                             UnsafeRawPointer(b + start).assumingMemoryBound(to: Double.self), Int64(count), atol, rtol, &c)
        } else {
            let x = (start..<end).map { Double(a[$0]) }, y = (start..<end).map { Double(b[$0]) }
            kiln_compare_f64(x, y, Int64(count), atol, rtol, &c)
        }
        var sums = BlockSums()
        sums.abs = c.abs
        sums.squaredError = c.squared_error
        sums.squaresA = c.squares_a
        sums.squaresB = c.squares_b
        sums.products = c.products
        sums.peak = c.peak
        sums.finite = end - start
        sums.differing = Int(c.differing)
        sums.beyond = Int(c.beyond)
        return sums
    }

    /// Element by element, keeping NaN and infinities out of the sums (see the type's notes).
    private func carefulBlock<T: BinaryFloatingPoint>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ start: Int, _ end: Int) -> BlockSums {
        let atol = tolerance.absolute, rtol = tolerance.relative
        var sums = BlockSums()
        for i in start..<end {
            let x = Double(a[i]), y = Double(b[i])
            let d = x - y
            // One test catches NaN or infinity on either side, and differences that overflow.
            guard d.isFinite, x.isFinite, y.isFinite else {
                if (x.isNaN && y.isNaN) || (x == y && x.isInfinite) { continue }
                sums.differing += 1
                sums.beyond += 1
                sums.nonFinite += 1
                sums.peak = .infinity
                continue
            }
            let ad = Swift.abs(d)
            sums.abs += ad
            sums.squaredError += d * d
            sums.squaresA += x * x
            sums.squaresB += y * y
            sums.products += x * y
            sums.peak = Swift.max(sums.peak, ad)
            sums.finite += 1
            sums.differing += d != 0 ? 1 : 0
            sums.beyond += ad > atol + rtol * Swift.abs(y) ? 1 : 0
        }
        return sums
    }

    // MARK: Statistics

    /// Every value equal (see the type's notes on −0 and NaN).
    public var valuesEqual: Bool { unequal == 0 }
    /// No element beyond the tolerance.
    public var withinTolerance: Bool { beyondTolerance == 0 }

    /// Σ|a − b| / n over finite pairs.
    public var meanAbs: Double { finiteElements > 0 ? sumAbs / Double(finiteElements) : 0 }
    /// √(Σ(a − b)² / n) over finite pairs, in the tensors' own units.
    public var rmse: Double { finiteElements > 0 ? (sumSquaredError / Double(finiteElements)).squareRoot() : 0 }

    /// The RMSE relative to A's RMS, √(Σ(a − b)² / Σa²): scale-free, so tensors compare.
    public var relativeRMSE: Double {
        if sumSquaredError == 0 { return 0 }
        return sumSquaresA > 0 ? (sumSquaredError / sumSquaresA).squareRoot() : .infinity
    }

    /// Cosine similarity of A and B as vectors, Σab / (‖a‖·‖b‖): 1 for the same direction.
    public var cosine: Double {
        let normA = sumSquaresA.squareRoot(), normB = sumSquaresB.squareRoot()
        if normA == 0 && normB == 0 { return 1 }
        if normA == 0 || normB == 0 { return 0 }
        return sumProducts / (normA * normB)
    }

    /// Signal-to-noise ratio in decibels, 10·log₁₀(Σa² / Σ(a − b)²): about 6 dB per bit of
    /// precision; +∞ when nothing differs.
    public var snrDB: Double {
        if sumSquaredError == 0 { return .infinity }
        if sumSquaresA == 0 { return -.infinity }
        return 10 * log10(sumSquaresA / sumSquaredError)
    }

    /// The share of elements beyond tolerance, 0…1.
    public var fractionBeyondTolerance: Double { elements > 0 ? Double(beyondTolerance) / Double(elements) : 0 }

    /// One line for reports: `max_abs 1.2e-03  rmse 3.4e-04  rel 1.1e-02  cos 0.999940  snr 39.2 dB`.
    public var summary: String {
        let snr = snrDB.isFinite ? String(format: "%.1f dB", snrDB) : (snrDB > 0 ? "inf" : "-inf")
        return String(format: "max_abs %.3e  rmse %.3e  rel %.3e  cos %.6f  snr ", maxAbs, rmse, relativeRMSE, cosine) + snr
    }

    /// The statistics as JSON (non-finite numbers, which JSON cannot hold, become null).
    public var json: [String: JSONValue] {
        [
            "elements": .int(Int64(elements)),
            "max_abs": .double(maxAbs),
            "mean_abs": .double(meanAbs),
            "rmse": .double(rmse),
            "relative_rmse": .double(relativeRMSE),
            "cosine": .double(cosine),
            "snr_db": .double(snrDB),
            "beyond_tolerance": .int(Int64(beyondTolerance)),
            "beyond_fraction": .double(fractionBeyondTolerance),
            "unequal": .int(Int64(unequal)),
            "non_finite_mismatches": .int(Int64(nonFiniteMismatches)),
        ]
    }
}
