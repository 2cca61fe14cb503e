import Foundation
import KilnCore
import KilnKernels
@testable import KilnQuant
import TestSupport
import Testing

/// The C scale searches (every tier this machine runs) give exactly the bits of the Swift twin,
/// on blocks that exercise the edges: outliers, constant and all-zero blocks, tiny and huge
/// magnitudes, NaN, with uniform and random importance.
struct ScaleSearchTests {
    static func blocks() -> [(x: [Float], importance: [Float]?)] {
        var random = SeededRandom(seed: 20261205)
        func gaussian() -> Float {
            let u = Float.random(in: Float.ulpOfOne..<1, using: &random), v = Float.random(in: 0..<1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        var blocks: [(x: [Float], importance: [Float]?)] = []
        for trial in 0..<600 {
            var x = (0..<32).map { _ in gaussian() * 0.02 }
            switch trial % 8 {
            case 1: x[Int.random(in: 0..<32, using: &random)] *= 40                  // an outlier
            case 2: x = x.map { abs($0) + 0.01 }                                      // one-signed
            case 3: x = x.map { $0 * 1e-30 }                                          // tiny
            case 4: x = x.map { $0 * 1e25 }                                           // huge
            case 5: x = x.map { (($0 * 200).rounded()) / 200 }                        // ties
            default: break
            }
            let importance: [Float]? = trial % 2 == 0 ? nil : (0..<32).map { _ in Float.random(in: 0..<4, using: &random) }
            blocks.append((x, importance))
        }
        blocks.append(([Float](repeating: 0.25, count: 32), nil))
        blocks.append(([Float](repeating: 0, count: 31) + [1], nil))
        var withNaN = blocks[0].x
        withNaN[5] = .nan
        blocks.append((withNaN, nil))
        return blocks
    }

    /// A starting level as the quantisers make it (NaN to 0).
    static func level(_ v: Float, top: Int) -> UInt8 { v > 0 ? UInt8(min(v, Float(top))) : 0 }

    static func maximum(_ x: [Float]) -> Float {
        var m: Float = 0
        for v in x where abs(v) > abs(m) { m = v }
        return m
    }

    @Test(arguments: [8, 16])
    func symmetricEqualsTheTwinOnEveryTier(_ offset: Int) {
        for (index, block) in Self.blocks().enumerated() {
            let maximum = Self.maximum(block.x)
            guard maximum != 0, maximum.isFinite else { continue }
            let start = maximum / Float(-offset)
            let id = 1 / start
            let startLevels = block.x.map { Self.level(($0 * id + Float(offset) + 0.5).rounded(.towardZero), top: 2 * offset - 1) }
            var expectedLevels = startLevels
            let expected = ScaleSearchTwin.symmetric(block.x, block.importance, offset: offset, maximum: maximum, scale: start,
                                                     levels: &expectedLevels)
            for tier in KernelTier.supported {
                var levels = startLevels
                let scale = block.x.withUnsafeBufferPointer { x in
                    Self.withOptionalPointer(block.importance) { w in
                        ScaleSearch.symmetric(x.baseAddress!, importance: w, offset: offset, maximum: maximum, scale: start,
                                              levels: &levels, tier: tier)
                    }
                }
                #expect(scale.bitPattern == expected.bitPattern && levels == expectedLevels, "block \(index), \(tier): \(scale) vs \(expected)")
            }
        }
    }

    /// The many-block search (a block per vector lane, with a partial last group) gives each
    /// block the twin's bits, with and without importance, on every tier; blocks whose extreme is
    /// 0 keep their start.
    @Test(arguments: [(8, false), (8, true), (16, false), (16, true)])
    func manyBlocksEqualTheTwinOnEveryTier(_ offset: Int, _ weighted: Bool) {
        var blocks = Self.blocks().filter { Self.maximum($0.x).isFinite }
        blocks.insert(([Float](repeating: 0, count: 32), nil), at: 7)
        let x = blocks.flatMap(\.x)
        let importance: [Float]? = weighted ? blocks.flatMap { $0.importance ?? [Float](repeating: 1, count: 32) } : nil
        var maxima: [Float] = [], startScales: [Float] = [], startLevels: [UInt8] = []
        var expectedScales: [Float] = [], expectedLevels: [UInt8] = []
        for (index, block) in blocks.enumerated() {
            let maximum = Self.maximum(block.x), start = maximum / Float(-offset)
            let id: Float = start == 0 ? 0 : 1 / start
            var levels = block.x.map { Self.level(($0 * id + Float(offset) + 0.5).rounded(.towardZero), top: 2 * offset - 1) }
            maxima.append(maximum)
            startScales.append(start)
            startLevels += levels
            var scale = start
            if maximum != 0 {
                scale = ScaleSearchTwin.symmetric(block.x, importance.map { Array($0[(32 * index)..<(32 * index + 32)]) },
                                                  offset: offset, maximum: maximum, scale: start, levels: &levels)
            }
            expectedScales.append(scale)
            expectedLevels += levels
        }
        #expect(blocks.count % 16 != 0 && maxima.contains(0))
        for tier in KernelTier.supported {
            var scales = startScales, levels = startLevels
            x.withUnsafeBufferPointer { xs in
                Self.withOptionalPointer(importance) { w in
                    ScaleSearch.symmetricBlocks(xs.baseAddress!, importance: w, count: blocks.count, offset: offset,
                                                maxima: maxima, scales: &scales, levels: &levels, tier: tier)
                }
            }
            #expect(scales.map(\.bitPattern) == expectedScales.map(\.bitPattern) && levels == expectedLevels, "\(tier)")
        }
    }

    @Test(arguments: [15, 31])
    func affineEqualsTheTwinOnEveryTier(_ maxLevel: Int) {
        for (index, block) in Self.blocks().enumerated() {
            let lo = block.x.min()!, hi = block.x.max()!
            guard hi > lo else { continue }
            let d = (hi - lo) / Float(maxLevel), id = 1 / d
            let startLevels = block.x.map { Self.level((($0 - lo) * id + 0.5).rounded(.towardZero), top: maxLevel) }
            var expectedLevels = startLevels
            let expected = ScaleSearchTwin.affine(block.x, block.importance, maxLevel: maxLevel, low: lo, high: hi, scale: d,
                                                  minimum: lo, levels: &expectedLevels)
            for tier in KernelTier.supported {
                var levels = startLevels
                let result = block.x.withUnsafeBufferPointer { x in
                    Self.withOptionalPointer(block.importance) { w in
                        ScaleSearch.affine(x.baseAddress!, importance: w, maxLevel: maxLevel, low: lo, high: hi, scale: d,
                                           minimum: lo, levels: &levels, tier: tier)
                    }
                }
                #expect(result.scale.bitPattern == expected.0.bitPattern && result.minimum.bitPattern == expected.1.bitPattern
                        && levels == expectedLevels, "block \(index), \(tier): \(result) vs \(expected)")
            }
        }
    }

    /// The searches change something: on most blocks they find a scale other than the start.
    @Test func theSearchMoves() {
        var moved = 0
        for block in Self.blocks().prefix(200) {
            let maximum = Self.maximum(block.x)
            var levels = [UInt8](repeating: 0, count: 32)
            let s = ScaleSearchTwin.symmetric(block.x, block.importance, offset: 8, maximum: maximum, scale: maximum / -8, levels: &levels)
            if s != maximum / -8 { moved += 1 }
        }
        #expect(moved > 100, "\(moved)/200")
    }

    /// Edge blocks eight at a time (a super-block of 256 values each; the last one wraps around),
    /// after two groups whose range is empty: constant negative (its minimum is the value) and
    /// all zero.
    static func superBlocks(weighted: Bool) -> [(x: [Float], importance: [Float]?)] {
        let flat: [(x: [Float], importance: [Float]?)] = [([Float](repeating: -0.25, count: 32), nil), ([Float](repeating: 0, count: 32), nil)]
        let blocks = flat + Self.blocks()
        return stride(from: 0, to: blocks.count, by: 8).map { start in
            let group = (start..<(start + 8)).map { blocks[$0 % blocks.count] }
            return (group.flatMap(\.x), weighted ? group.flatMap { $0.importance ?? [Float](repeating: 0.5, count: 32) } : nil)
        }
    }

    /// A K-quant super-block's group fit by `body`, as bit patterns: scales, minima, levels.
    static func fit(_ x: [Float], _ importance: [Float]?, _ body: (UnsafePointer<Float>, UnsafePointer<Float>?, GroupFit) -> Void) -> [UInt32] {
        var scales = [Float](repeating: 0, count: 16), mins = scales, levels = [UInt8](repeating: 0, count: 256)
        scales.withUnsafeMutableBufferPointer { s in
            mins.withUnsafeMutableBufferPointer { m in
                levels.withUnsafeMutableBufferPointer { l in
                    x.withUnsafeBufferPointer { xp in
                        Self.withOptionalPointer(importance) { w in
                            body(xp.baseAddress!, w, GroupFit(scales: s.baseAddress!, mins: m.baseAddress!, levels: l.baseAddress!))
                        }
                    }
                }
            }
        }
        return scales.map(\.bitPattern) + mins.map(\.bitPattern) + levels.map(UInt32.init)
    }

    /// Every super-block's fit by `fast` on every tier equals its fit by the Swift `twin`, bit for bit.
    static func expectTwinBits(_ name: String, weighted: Bool, twin: (UnsafePointer<Float>, UnsafePointer<Float>?, GroupFit) -> Void,
                               fast: (UnsafePointer<Float>, UnsafePointer<Float>?, GroupFit, KernelTier) -> Void) {
        for (index, block) in superBlocks(weighted: weighted).enumerated() {
            let expected = fit(block.x, block.importance, twin)
            for tier in KernelTier.supported {
                let got = fit(block.x, block.importance) { fast($0, $1, $2, tier) }
                #expect(got == expected, "\(name) fits of super-block \(index) on \(tier.rawValue)")
            }
        }
    }

    /// q4_K/q5_K's group fits in C (`Q4_KQuantizer.fitGroups`, one group per vector lane) give
    /// the Swift twin's bits on every tier, with and without importance.
    @Test(arguments: [(4, false), (4, true), (5, false), (5, true)])
    func kquantGroupFitsEqualTheTwinOnEveryTier(_ bits: Int, _ weighted: Bool) {
        let quantizer = Q4_KQuantizer(bits: bits)
        Self.expectTwinBits("q\(bits)_k", weighted: weighted, twin: { quantizer.swiftFitGroups($0, importance: $1, into: $2) },
                            fast: { quantizer.fitGroups($0, importance: $1, into: $2, tier: $3) })
    }

    /// q2_K's group fits in C (16-value groups, absolute errors) likewise.
    @Test(arguments: [false, true])
    func q2KGroupFitsEqualTheTwinOnEveryTier(_ weighted: Bool) {
        let quantizer = Q2_KQuantizer()
        Self.expectTwinBits("q2_k", weighted: weighted, twin: { quantizer.swiftFitGroups($0, importance: $1, into: $2) },
                            fast: { quantizer.fitGroups($0, importance: $1, into: $2, tier: $3) })
    }

    /// q6_K's group fits in C likewise.
    @Test(arguments: [false, true])
    func q6KGroupFitsEqualTheTwinOnEveryTier(_ weighted: Bool) {
        let quantizer = Q6_KQuantizer()
        Self.expectTwinBits("q6_k", weighted: weighted, twin: { quantizer.swiftFitGroups($0, importance: $1, into: $2) },
                            fast: { quantizer.fitGroups($0, importance: $1, into: $2, tier: $3) })
    }

    /// The C re-rounding of a group's levels equals the Swift expression it replaced on every tier, for the edge
    /// blocks' values (NaN, ±0, tiny, huge, ties) against q4_K-like and q6_K-like scales.
    @Test func roundedLevelsEqualTheSwiftExpression() {
        let values = Self.blocks().flatMap(\.x) + [-0.0, 0.0, .infinity, -.infinity, 1e38, -1e38]
        for (offset, scale, lowest, highest, bias) in [(Float(0.013), Float(0.0021), 0, 15, 0), (0.5, 0.03, 0, 31, 0),
                                                       (0, 0.0017, -32, 31, 32), (0, -0.004, -32, 31, 32), (0, 3e-39, -32, 31, 32)] {
            let expected = values.map { UInt8(max(lowest, min(highest, KQuantMath.nearestInt(($0 + offset) / scale))) + bias) }
            for tier in KernelTier.supported {
                var got = [UInt8](repeating: 0, count: values.count)
                ScaleSearch.roundLevels(values, count: values.count, offset: offset, scale: scale, lowest: lowest, highest: highest,
                                        bias: bias, into: &got, tier: tier)
                #expect(got == expected, "offset \(offset) scale \(scale) on \(tier.rawValue)")
            }
        }
    }

    static func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
