import Foundation
import KilnCore
import KilnKernels
import TestSupport
import Testing

/// The other hot loops on every tier against the Swift reference (computed in Double with the
/// textbook formulas), at lengths around the SIMD widths. Tolerances are per op, stated where
/// they are used; the C tiers' exponential is a polynomial good to about 2 ulps.
struct OpsTests {
    static let lengths = [1, 3, 7, 8, 9, 16, 31, 33, 100, 576, 1001]

    /// Applies `op` to a copy of `input` on a table and returns the copy.
    static func run(_ input: [Float], _ op: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var x = input
        x.withUnsafeMutableBufferPointer { op($0.baseAddress!) }
        return x
    }

    static func check(_ name: String, _ table: KernelTable, _ got: [Float], _ expected: [Float], rtol: Double, atol: Double) {
        if let i = firstMismatch(got, expected, rtol: rtol, atol: atol) {
            Issue.record("\(name) \(table.tier) n=\(got.count): [\(i)] = \(i >= 0 ? got[i] : .nan), reference \(i >= 0 ? expected[i] : .nan)")
        }
    }

    @Test func norms() {
        var random = SeededRandom(seed: 1)
        for n in Self.lengths {
            let x = (0..<n).map { _ in random.uniform(-3, 3) }, w = (0..<n).map { _ in random.uniform(0.5, 1.5) }
            let bias = (0..<n).map { _ in random.uniform(-1, 1) }
            func norms(_ t: KernelTable) -> [[Float]] {
                [Self.run(x) { out in t.rmsNorm(x, weight: w, count: n, eps: 1e-5, into: out) },
                 Self.run(x) { out in t.layerNorm(x, weight: w, bias: bias, count: n, eps: 1e-5, into: out) },
                 Self.run(x) { out in t.layerNorm(x, weight: w, bias: nil, count: n, eps: 1e-5, into: out) }]
            }
            let expected = norms(reference)
            // Outputs are O(1): 1e-5 relative plus 1e-6 absolute covers f32 sums of ≤ 1001 squares.
            for table in allTables {
                for (name, (got, want)) in zip(["rmsNorm", "layerNorm", "layerNorm(no bias)"], zip(norms(table), expected)) {
                    Self.check(name, table, got, want, rtol: 1e-5, atol: 1e-6)
                }
            }
        }
        // Independent: RMS of the normalised vector is 1 (unit weights, eps 0).
        let x: [Float] = [3, -4, 12, 0, 5]
        let y = Self.run(x) { out in reference.rmsNorm(x, weight: [1, 1, 1, 1, 1], count: 5, eps: 0, into: out) }
        #expect(abs(y.map { Double($0 * $0) }.reduce(0, +) / 5 - 1) < 1e-6)
    }

    @Test func softmax() {
        var random = SeededRandom(seed: 2)
        for n in Self.lengths {
            let x = (0..<n).map { _ in random.uniform(-30, 30) }
            let expected = Self.run(x) { reference.softmax($0, count: n) }
            #expect(abs(expected.reduce(0, +) - 1) < 1e-5)
            // Each probability to 1e-5 relative; values below 1e-30 of the largest may differ.
            for table in allTables { Self.check("softmax", table, Self.run(x) { table.softmax($0, count: n) }, expected, rtol: 1e-5, atol: 1e-30) }
        }
        // Large logits must not overflow: the maximum is subtracted first.
        for table in allTables {
            let y = Self.run([1000, 1000, -1000]) { table.softmax($0, count: 3) }
            #expect(abs(y[0] - 0.5) < 1e-6 && abs(y[1] - 0.5) < 1e-6 && y[2] < 1e-30, "\(table.tier) \(y)")
        }
    }

    @Test(arguments: [RopeMode.normal, .neox])
    func rope(mode: RopeMode) {
        var random = SeededRandom(seed: 3)
        for (heads, headDim, rotaryDims) in [(1, 2, 2), (3, 8, 8), (2, 64, 64), (5, 80, 32), (4, 128, 128), (2, 18, 14)] {
            let x = (0..<(heads * headDim)).map { _ in random.uniform(-2, 2) }
            for position in [0, 1, 17, 4095, 100_000] {
                for (base, scale): (Float, Float) in [(10000, 1), (100_000, 0.25)] {
                    func rotate(_ t: KernelTable) -> [Float] {
                        Self.run(x) { t.rope($0, heads: heads, headDim: headDim, rotaryDims: rotaryDims, position: position, base: base, freqScale: scale, mode: mode) }
                    }
                    let expected = rotate(reference)
                    // Angles are computed in double on every tier; 2e-6 of the values' scale is f32 rounding.
                    for table in allTables { Self.check("rope \(mode) p=\(position)", table, rotate(table), expected, rtol: 0, atol: 2e-6 * 2) }
                    if position == 0 { #expect(expected == x) }
                    // The angles computed once per position (as the transformer keeps them) rotate
                    // exactly as the per-call computation does, on every tier.
                    let angles = RopeAngles(rotaryDims: rotaryDims, base: base, freqScale: scale, capacity: position + 1)
                    for table in allTables {
                        let cached = Self.run(x) { table.rope($0, heads: heads, headDim: headDim, position: position, angles: angles, mode: mode) }
                        #expect(cached == rotate(table), "\(table.tier) rope \(mode) p=\(position) from cached angles")
                    }
                }
            }
        }
        // Independent: the pair rotated by position·θ₀ with θ₀ = 1 for the first pair.
        let y = Self.run([1, 0, 0, 1]) { reference.rope($0, heads: 1, headDim: 4, rotaryDims: 4, position: 2, base: 10000, freqScale: 1, mode: mode) }
        let first = mode == .normal ? (y[0], y[1]) : (y[0], y[2])
        #expect(abs(Double(first.0) - cos(2.0)) < 1e-6 && abs(Double(first.1) - sin(2.0)) < 1e-6)
    }

    @Test func activations() {
        var random = SeededRandom(seed: 4)
        for n in Self.lengths + [2000] {
            var x = (0..<n).map { _ in random.uniform(-8, 8) }
            if n >= 9 { x[0] = -100; x[1] = 100; x[2] = 0; x[3] = -20; x[4] = 20; x[5] = -1e-20; x[6] = 88.8; x[7] = -88.8 }
            let up = (0..<n).map { _ in random.uniform(-2, 2) }
            func apply(_ t: KernelTable) -> [[Float]] {
                [Self.run(x) { t.gelu($0, count: n) }, Self.run(x) { t.silu($0, count: n) },
                 Self.run(x) { t.swiglu(gate: $0, up: up, count: n) }]
            }
            let expected = apply(reference)
            // 1e-5 relative; 1e-6 absolute where the value is near zero (the far negative tail).
            for table in allTables {
                for (name, (got, want)) in zip(["gelu", "silu", "swiglu"], zip(apply(table), expected)) {
                    Self.check(name, table, got, want, rtol: 1e-5, atol: 1e-6)
                }
            }
        }
        // Independent values: GELU-tanh(1) = 0.841192, SiLU(1) = 0.731059.
        let g = Self.run([1]) { reference.gelu($0, count: 1) }, s = Self.run([1]) { reference.silu($0, count: 1) }
        #expect(abs(g[0] - 0.8411920) < 1e-6 && abs(s[0] - 0.7310586) < 1e-6)
    }

    /// f16/bf16 ↔ f32 on every tier is exact: bit-identical to `HalfPrecision` for every 16-bit
    /// pattern and for random f32 patterns (NaNs, infinities, subnormals, overflow, ties included) — except that F16C and
    /// FCVT quiet a signalling NaN (set the top mantissa bit), so there the payload is compared
    /// with that bit set.
    @Test func conversions() {
        var random = SeededRandom(seed: 6)
        let halves = (0...UInt16.max).map { $0 } + [0, 0x8000, 0x7C01]  // every pattern, then an odd tail
        var floats = (0..<4099).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: random.next())) }
        floats += [0, -0, 65504, 65519.99, 65520, 1e-8, 5.96e-8, 2.98e-8, 2.9802326e-8, .infinity, -.infinity, .nan,
                   Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), .greatestFiniteMagnitude]
        floats += (0..<1000).map { _ in random.uniform(-70000, 70000) }
        for table in allTables {
            for format in [HalfFormat.f16, .bf16] {
                var wide = [Float](repeating: 0, count: halves.count)
                table.convert(halves, from: format, into: &wide, count: halves.count)
                let expectedWide = halves.map { format == .f16 ? HalfPrecision.floatFromHalf($0) : HalfPrecision.floatFromBFloat($0) }
                let badWide = wide.indices.filter {
                    expectedWide[$0].isNaN ? wide[$0].bitPattern | 0x40_0000 != expectedWide[$0].bitPattern | 0x40_0000
                        : wide[$0].bitPattern != expectedWide[$0].bitPattern
                }
                #expect(badWide.isEmpty, "\(table.tier) \(format) → f32: \(badWide.prefix(3).map { "\(halves[$0]) → \(wide[$0].bitPattern) not \(expectedWide[$0].bitPattern)" })")
                var narrow = [UInt16](repeating: 0, count: floats.count)
                table.convert(floats, into: &narrow, as: format, count: floats.count)
                let expectedNarrow = floats.map { format == .f16 ? HalfPrecision.halfFromFloat($0) : HalfPrecision.bfloatFromFloat($0) }
                let bad = narrow.indices.filter { narrow[$0] != expectedNarrow[$0] }
                #expect(bad.isEmpty, "\(table.tier) f32 → \(format): \(bad.prefix(3).map { "\(floats[$0].bitPattern) → \(narrow[$0]) not \(expectedNarrow[$0])" })")
            }
        }
    }

    /// Greedy decoding's pick against the plain scan it replaces (`x[i] > x[best]`): lengths
    /// around its 16-lane, 64-value blocks; values from a handful of levels so ties are common
    /// (the first index must win); NaNs scattered in (never picked), or at index 0 (then 0).
    @Test func argmaxMatchesThePlainScan() {
        func scan(_ x: [Float]) -> Int {
            var best = 0
            for i in x.indices where x[i] > x[best] { best = i }
            return best
        }
        var random = SeededRandom(seed: 9)
        for n in [1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 49_152] {
            for trial in 0..<20 {
                var x = (0..<n).map { _ in Float(random.next() % 7) - 3 }
                if trial % 4 == 1 { for _ in 0..<(1 + n / 50) { x[Int(random.next() % UInt64(n))] = .nan } }
                if trial % 4 == 2 { x[0] = .nan }
                if trial % 4 == 3 { x[Int(random.next() % UInt64(n))] = 100 }  // one clear winner
                let got = x.withUnsafeBufferPointer { Kernels.argmax($0.baseAddress!, count: n) }
                #expect(got == scan(x), "n=\(n) trial \(trial)")
            }
        }
        // Negative zero equals zero: the first of them wins, whichever sign it has.
        let zeros: [Float] = [-1, -0.0, 0, -2]
        #expect(zeros.withUnsafeBufferPointer { Kernels.argmax($0.baseAddress!, count: 4) } == 1)
    }
}