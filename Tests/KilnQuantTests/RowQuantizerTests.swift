import KilnCore
import KilnKernels
@testable import KilnQuant
import Testing

/// Every tier's row quantiser (`row(x, importance, out, tier)`) against `quantizer`'s Swift block
/// quantiser, block by block: the same bytes, or the failing blocks named.
func expectRowEqualsBlocks(_ quantizer: some BlockQuantizer, x: [Float], importance: [Float], method: QuantMethod,
                           weighted: Bool,
                           row: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer, KernelTier) -> Void) {
    let blocks = x.count / 32, size = quantizer.type.blockBytes
    var expected = [UInt8](repeating: 0, count: blocks * size)
    x.withUnsafeBufferPointer { x in
        importance.withUnsafeBufferPointer { w in
            for b in 0..<blocks {
                quantizer.quantizeBlock(x.baseAddress! + 32 * b, importance: weighted ? w.baseAddress! + 32 * b : nil,
                                        method: method, into: &expected[size * b])
            }
            for tier in KernelTier.supported {
                var bytes = [UInt8](repeating: 0, count: blocks * size)
                bytes.withUnsafeMutableBytes { row(x.baseAddress!, weighted ? w.baseAddress! : nil, $0.baseAddress!, tier) }
                let differing = (0..<blocks).filter { bytes[size * $0..<size * $0 + size] != expected[size * $0..<size * $0 + size] }
                #expect(differing.isEmpty, "\(tier): \(differing.count) of \(blocks) blocks differ, first \(differing.first ?? -1)")
            }
        }
    }
}

/// kq4's row quantiser runs its exponent trials in C, sixteen 16-value groups per vector; it must
/// write exactly the bytes of the Swift block quantiser (one group at a time), on every tier, with
/// and without importance, searched and round-to-nearest — over ScaleSearchTests' edge blocks
/// (outliers, one-signed, tiny, huge, ties, constant, all-zero but one, NaN), a row whose length
/// is not a multiple of sixteen groups, and exponents at both ends of the byte.
struct KQ4SearchTests {
    static func row() -> (x: [Float], importance: [Float]) {
        let blocks = ScaleSearchTests.blocks()
        var x = blocks.flatMap(\.x), importance = blocks.flatMap { $0.importance ?? [Float](repeating: 1, count: 32) }
        // Groups whose nearest exponent sits at 0 or 255 (the window is cut there) and one of zeros.
        x += (0..<16).map { Float($0 + 1) * 1e-12 } + (0..<16).map { Float($0 - 8) * 200 } + [Float](repeating: 0, count: 32)
        importance += [Float](repeating: 0.5, count: 64)
        return (x, importance)
    }

    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func rowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        let (values, importance) = Self.row(), quantizer = KQ4Quantizer()
        expectRowEqualsBlocks(quantizer, x: values, importance: importance, method: method, weighted: weighted) { x, w, out, tier in
            quantizer.quantize(x, count: values.count, importance: w, method: method, into: out, tier: tier)
        }
    }

    /// The search does move exponents away from the nearest one — beyond its ±3 window too, where
    /// the refit scale points (the row quantiser's second call) — and the row's edge groups reach
    /// both ends of the exponent byte (so the cut windows above are exercised).
    @Test func theRowReachesTheEdges() {
        let (x, _) = Self.row()
        var bytes = [UInt8](repeating: 0, count: x.count / 32 * 18)
        KQ4Quantizer().quantize(x, count: x.count, importance: nil, method: .search, into: &bytes)
        let exponents = (0..<(x.count / 32)).flatMap { [bytes[18 * $0], bytes[18 * $0 + 1]] }
        #expect(exponents.contains(0) && exponents.contains(255))
        let beyondWindow = (0..<(x.count / 16)).filter { g in
            let amax = x[16 * g..<16 * g + 16].reduce(Float(0)) { max($0, abs($1)) }
            return amax > 0 && abs(Int(exponents[g]) - KQ4.exponent(nearest: amax / 127)) > 3
        }
        #expect(!beyondWindow.isEmpty)
        var rtn = [UInt8](repeating: 0, count: bytes.count)
        KQ4Quantizer().quantize(x, count: x.count, importance: nil, method: .roundToNearest, into: &rtn)
        #expect(rtn != bytes)
    }
}

/// q8_0's row quantiser runs in C, one block per vector lane; it must write exactly the Swift
/// block quantiser's bytes on every tier, searched and round-to-nearest, with and without
/// importance, over ScaleSearchTests' edge blocks (NaN, all-zero, tiny, huge, ties…) and a row
/// that does not fill its last vector.
struct Q8_0RowTests {
    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func rowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        let blocks = ScaleSearchTests.blocks()
        let x = blocks.flatMap(\.x), importance = blocks.flatMap { $0.importance ?? [Float](repeating: 0.5, count: 32) }
        expectRowEqualsBlocks(Q8_0Quantizer(), x: x, importance: importance, method: method, weighted: weighted) { x, w, out, tier in
            ScaleSearch.q8_0Blocks(x, importance: w, count: blocks.count, search: method == .search, into: out, tier: tier)
        }
    }
}

/// q4_0's and q5_0's row quantisers make their starts and run their searches in C, sixteen blocks
/// per vector; they must write the Swift block quantisers' bytes on every tier, searched and
/// round-to-nearest, with and without importance, over ScaleSearchTests' edge blocks and a block
/// with an infinity (whose other levels come from NaN: q4_0's start makes them 15, q5_0's 0).
struct Q4_0RowTests {
    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func rowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        let quantizer = Q4_0Quantizer()
        expectRow(quantizer, method: method, weighted: weighted) { x, count, w, out, tier in
            quantizer.quantize(x, count: count, importance: w, method: method, into: out, tier: tier)
        }
    }

    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func q5_0RowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        let quantizer = Q5_0Quantizer()
        expectRow(quantizer, method: method, weighted: weighted) { x, count, w, out, tier in
            quantizer.quantize(x, count: count, importance: w, method: method, into: out, tier: tier)
        }
    }

    func expectRow(_ quantizer: some BlockQuantizer, method: QuantMethod, weighted: Bool,
                   row: (UnsafePointer<Float>, Int, UnsafePointer<Float>?, UnsafeMutableRawPointer, KernelTier) -> Void) {
        var withInfinity = ScaleSearchTests.blocks()[2].x
        withInfinity[7] = -.infinity
        let blocks = ScaleSearchTests.blocks() + [(withInfinity, nil)]
        let values = blocks.flatMap(\.x), importance = blocks.flatMap { $0.importance ?? [Float](repeating: 0.5, count: 32) }
        expectRowEqualsBlocks(quantizer, x: values, importance: importance, method: method, weighted: weighted) { x, w, out, tier in
            row(x, values.count, w, out, tier)
        }
    }
}

/// Σ w·(x − decoded)² in f64 for quantised bytes of `scheme` (the searches' objective, measured
/// independently of them through the type's decoder).
func weightedError(_ x: [Float], _ w: [Float], _ bytes: [UInt8], _ scheme: QuantScheme) throws -> Double {
    let decoded = try bytes.withUnsafeBytes { try scheme.type.dequantize($0, elementCount: x.count) }
    return zip(zip(x, w), decoded).reduce(0.0) { sum, item in
        let ((value, weight), y) = item
        return sum + Double(weight) * Double(value - y) * Double(value - y)
    }
}

/// q4_1's and q5_1's row quantisers make their starts in Swift and search sixteen blocks per
/// vector in C; they must write their block quantisers' bytes on every tier, searched and
/// round-to-nearest, with and without importance, over ScaleSearchTests' edge blocks.
struct AffineRowTests {
    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func q4_1RowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        expectRow(Q4_1Quantizer(), method: method, weighted: weighted)
    }

    @Test(arguments: [QuantMethod.search, .roundToNearest], [false, true])
    func q5_1RowEqualsTheBlockQuantiserOnEveryTier(method: QuantMethod, weighted: Bool) {
        expectRow(Q5_1Quantizer(), method: method, weighted: weighted)
    }

    func expectRow(_ quantizer: some AffineRowQuantizer, method: QuantMethod, weighted: Bool) {
        let blocks = ScaleSearchTests.blocks()
        let values = blocks.flatMap(\.x), importance = blocks.flatMap { $0.importance ?? [Float](repeating: 0.5, count: 32) }
        expectRowEqualsBlocks(quantizer, x: values, importance: importance, method: method, weighted: weighted) { x, w, out, tier in
            quantizer.quantize(x, count: values.count, importance: w, method: method, into: out, tier: tier)
        }
    }
}
