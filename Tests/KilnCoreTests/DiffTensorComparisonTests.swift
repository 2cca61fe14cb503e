import Foundation
import KilnCore
import TestSupport
import Testing

/// `TensorComparison`, the statistics of `kiln diff` (and of the quantiser's report): each
/// definition on small hand-checked inputs, the tolerance test, non-finite values, degenerate
/// tensors, and that chunked accumulation merges to the same numbers as one pass.
struct DiffTensorComparisonTests {
    @Test func definitionsOnAHandCheckedExample() {
        // a = [1, 2, 3, 4], b = [1, 2.5, 2, 4]: d = [0, -0.5, 1, 0].
        let c = TensorComparison.compare([1, 2, 3, 4], [1, 2.5, 2, 4])
        #expect(c.elements == 4 && c.finiteElements == 4 && c.unequal == 2 && c.beyondTolerance == 2)
        #expect(c.maxAbs == 1)
        #expect(c.meanAbs == 0.375)
        #expect(c.rmse == (1.25 / 4).squareRoot())
        #expect(c.relativeRMSE == (1.25 / 30).squareRoot())
        #expect(abs(c.cosine - 28 / (30.0.squareRoot() * 27.25.squareRoot())) < 1e-15)
        #expect(abs(c.snrDB - 10 * log10(30 / 1.25)) < 1e-12)
        #expect(c.fractionBeyondTolerance == 0.5)
        #expect(!c.valuesEqual && !c.withinTolerance)
    }

    @Test func identicalValues() {
        let c = TensorComparison.compare([0.5, -3, 7], [0.5, -3, 7])
        #expect(c.valuesEqual && c.withinTolerance)
        #expect(c.maxAbs == 0 && c.rmse == 0 && c.relativeRMSE == 0)
        #expect(abs(c.cosine - 1) < 1e-15)
        #expect(c.snrDB == .infinity)
        let shortcut = TensorComparison.identical(elements: 3)
        #expect(shortcut.elements == 3 && shortcut.maxAbs == 0 && shortcut.cosine == 1 && shortcut.snrDB == .infinity)
    }

    /// numpy.isclose: |a − b| ≤ atol + rtol·|b|, B being numpy's `b`; the boundary is within.
    @Test func toleranceIsNumpyIsclose() {
        let a: [Float] = [1, 1, 100, 100, 0]
        let b: [Float] = [1.5, 1.25, 101, 99, 0.25]
        let tolerance = TensorComparison.Tolerance(absolute: 0.25, relative: 0.0078125)
        // Limits: 0.25 + |b|/128 = 0.2617…, 0.2597…, 1.0390…, 1.0234…, 0.2519…
        let c = TensorComparison.compare(a, b, tolerance: tolerance)
        #expect(c.beyondTolerance == 1, "only |1 − 1.5| = 0.5 exceeds its limit")
        let exact = TensorComparison.compare(a, b)
        #expect(exact.beyondTolerance == 5)
        // Relative tolerance scales with |b|, not |a|: 10 vs 0 passes only one way round.
        let onB = TensorComparison.compare([0], [10], tolerance: .init(relative: 1))
        let onA = TensorComparison.compare([10], [0], tolerance: .init(relative: 1))
        #expect(onB.withinTolerance && !onA.withinTolerance)
    }

    @Test func nonFiniteValuesAreMatchedNotSummed() {
        let nan = Float.nan, inf = Float.infinity
        let c = TensorComparison.compare([1, nan, inf, -inf, 0, 2, nan, 3], [1, nan, inf, inf, -0.0, 2.5, 1, 3])
        #expect(c.elements == 8)
        #expect(c.finiteElements == 4, "pairs 0, 4, 5, 7")
        #expect(c.nonFiniteMismatches == 2, "inf vs -inf, NaN vs 1")
        #expect(c.unequal == 3 && c.beyondTolerance == 3)
        #expect(c.maxAbs == .infinity)
        #expect(c.meanAbs == 0.5 / 4, "only 2 vs 2.5 differs among the finite pairs")
        #expect(TensorComparison.compare([-0.0], [0]).valuesEqual, "−0 equals +0 in value")
    }

    @Test func degenerateTensors() {
        let zeros = TensorComparison.compare([0, 0], [0, 0])
        #expect(zeros.cosine == 1 && zeros.relativeRMSE == 0 && zeros.snrDB == .infinity)
        let fromZero = TensorComparison.compare([0, 0], [1, 0])
        #expect(fromZero.cosine == 0 && fromZero.relativeRMSE == .infinity && fromZero.snrDB == -.infinity)
        let empty = TensorComparison.compare([], [])
        #expect(empty.elements == 0 && empty.meanAbs == 0 && empty.fractionBeyondTolerance == 0)
    }

    /// Chunks merged in order give what one pass gives (to rounding), and Float and Double
    /// inputs of the same values agree exactly.
    @Test(arguments: [1, 7, 1000, 1024, 5000])
    func chunksMergeToTheWhole(_ chunk: Int) {
        var random = SeededRandom(seed: 42)
        let n = 10_001
        let a = (0..<n).map { _ in Float(Int64(bitPattern: random.next() >> 40) - (1 << 23)) / Float(1 << 23) }
        let b = a.map { $0 + Float(Int64(bitPattern: random.next() >> 50) - (1 << 13)) / Float(1 << 20) }
        let whole = TensorComparison.compare(a, b, tolerance: .init(absolute: 1e-3))
        var merged = TensorComparison(tolerance: .init(absolute: 1e-3))
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for start in stride(from: 0, to: n, by: chunk) {
                    var part = TensorComparison(tolerance: .init(absolute: 1e-3))
                    let end = min(start + chunk, n)
                    part.add(UnsafeBufferPointer(rebasing: pa[start..<end]), UnsafeBufferPointer(rebasing: pb[start..<end]))
                    merged.merge(part)
                }
            }
        }
        #expect(merged.elements == whole.elements && merged.beyondTolerance == whole.beyondTolerance && merged.maxAbs == whole.maxAbs)
        for (x, y) in [(merged.rmse, whole.rmse), (merged.cosine, whole.cosine), (merged.snrDB, whole.snrDB), (merged.meanAbs, whole.meanAbs)] {
            #expect(abs(x - y) <= 1e-12 * abs(y), "\(x) vs \(y)")
        }
        var doubles = TensorComparison(tolerance: .init(absolute: 1e-3))
        let da = a.map(Double.init), db = b.map(Double.init)
        da.withUnsafeBufferPointer { pa in db.withUnsafeBufferPointer { pb in doubles.add(pa, pb) } }
        #expect(doubles == whole)
    }

    @Test func summaryAndJSON() {
        let c = TensorComparison.compare([1, 2], [1, 2.5])
        #expect(c.summary.hasPrefix("max_abs 5.000e-01  rmse "))
        #expect(c.json["snr_db"] == .double(c.snrDB))
        #expect(JSONValue.object(TensorComparison.compare([1], [1]).json).serialized().contains("\"snr_db\":null"))
    }
}
