import Foundation
import KilnCore
@testable import KilnQuant
import TestSupport
import Testing

/// The K-quant search as it runs (each row's group fits two blocks at a time, every candidate
/// made before any is measured, the errors and the uniform-weight refits computed side by side)
/// writes the bytes of its twin, `referenceQuantizeBlock`, which makes and measures one candidate
/// at a time: for every K-quant type, with and without importance, on rows whose super-blocks
/// carry the edge groups (outliers, constant and all-zero groups, tiny and huge magnitudes, NaN).
struct KQuantSearchTests {
    static let quantizers: [any KQuantizer] = [Q2_KQuantizer(), Q3_KQuantizer(), Q4_KQuantizer(bits: 4), Q4_KQuantizer(bits: 5),
                                               Q6_KQuantizer()]

    /// Rows of three super-blocks (an odd count: the last one fitted alone).
    static func rows(weighted: Bool) -> [(x: [Float], importance: [Float]?)] {
        let blocks = ScaleSearchTests.superBlocks(weighted: weighted)
        return stride(from: 0, to: blocks.count, by: 3).map { start in
            let three = (start..<(start + 3)).map { blocks[$0 % blocks.count] }
            return (three.flatMap(\.x), weighted ? three.flatMap { $0.importance! } : nil)
        }
    }

    static func bytes(_ quantizer: any KQuantizer, _ x: [Float], _ importance: [Float]?, method: QuantMethod,
                      _ body: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer) -> Void) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / 256 * quantizer.type.blockBytes)
        out.withUnsafeMutableBytes { o in
            x.withUnsafeBufferPointer { xp in
                ScaleSearchTests.withOptionalPointer(importance) { w in body(xp.baseAddress!, w, o.baseAddress!) }
            }
        }
        return out
    }

    @Test(arguments: [false, true], [QuantMethod.search, .roundToNearest])
    func rowsAndBlocksWriteTheReferenceBytes(weighted: Bool, method: QuantMethod) {
        for quantizer in Self.quantizers {
            let size = quantizer.type.blockBytes
            for (index, row) in Self.rows(weighted: weighted).enumerated() {
                let expected = Self.bytes(quantizer, row.x, row.importance, method: method) { x, w, out in
                    for b in 0..<(row.x.count / 256) {
                        quantizer.referenceQuantizeBlock(x + 256 * b, importance: w.map { $0 + 256 * b }, method: method, into: out + size * b)
                    }
                }
                let byRow = Self.bytes(quantizer, row.x, row.importance, method: method) { x, w, out in
                    quantizer.quantize(x, count: row.x.count, importance: w, method: method, into: out)
                }
                let byBlock = Self.bytes(quantizer, row.x, row.importance, method: method) { x, w, out in
                    for b in 0..<(row.x.count / 256) {
                        quantizer.quantizeBlock(x + 256 * b, importance: w.map { $0 + 256 * b }, method: method, into: out + size * b)
                    }
                }
                #expect(byRow == expected, "\(quantizer.type.name) row \(index), \(method), weighted \(weighted)")
                #expect(byBlock == expected, "\(quantizer.type.name) block by block, row \(index), \(method), weighted \(weighted)")
            }
        }
    }

    /// Blocks refitted to `x` side by side (`refit(_:importance:blocks:refitted:)`) and one at a
    /// time: each way's bytes and which blocks were refitted.
    static func refitBothWays(_ quantizer: any KQuantizer, _ x: [Float], _ packed: [UInt8]) -> (together: [UInt8], alone: [UInt8]) {
        let size = quantizer.type.blockBytes, count = packed.count / size
        var sideBySide = packed, oneByOne = packed
        var together = [Bool](repeating: false, count: count), alone = together
        x.withUnsafeBufferPointer { xp in
            sideBySide.withUnsafeMutableBytes { out in
                let blocks = (0..<count).map { out.baseAddress! + $0 * size }
                blocks.withUnsafeBufferPointer { quantizer.refit(xp.baseAddress!, importance: nil, blocks: $0, refitted: &together) }
            }
            oneByOne.withUnsafeMutableBytes { out in
                for k in 0..<count { alone[k] = quantizer.refit(xp.baseAddress!, importance: nil, block: out.baseAddress! + k * size) }
            }
        }
        return (sideBySide + together.map { $0 ? 1 : 0 }, oneByOne + alone.map { $0 ? 1 : 0 })
    }

    /// The refits side by side give each block the bytes of its own `refit`: five different
    /// packed blocks refitted to one set of values, so a block's sums in another's lane show.
    @Test func refitsSideBySideEqualOneAtATime() {
        var random = SeededRandom(seed: 20261207)
        let sources = ScaleSearchTests.superBlocks(weighted: false)
        for quantizer in Self.quantizers {
            let size = quantizer.type.blockBytes
            for trial in 0..<40 {
                var packed = [UInt8](repeating: 0, count: 5 * size)
                packed.withUnsafeMutableBytes { out in
                    for k in 0..<5 {
                        sources[(5 * trial + k) % sources.count].x.withUnsafeBufferPointer {
                            quantizer.quantizeBlock($0.baseAddress!, importance: nil, method: .roundToNearest, into: out.baseAddress! + k * size)
                        }
                    }
                }
                var x = (0..<256).map { _ in Float.random(in: 0.001...0.03, using: &random) }
                let big = Float(trial % 2 == 0 ? 1e7 : 3e5)
                x[Int.random(in: 0..<128, using: &random)] += big
                x[Int.random(in: 128..<256, using: &random)] -= big
                let (together, alone) = Self.refitBothWays(quantizer, x, packed)
                #expect(together == alone, "\(quantizer.type.name) trial \(trial)")
            }
        }
    }

    /// A block refitted in every lane against values whose sum depends on its order: ±2⁵⁰ at two
    /// positions of one group with the same level (their products cancel exactly, but a running
    /// sum holding one of them absorbs the small terms added meanwhile). A lane that sums in
    /// another order than `refit` gets another scale.
    @Test func refitsSideBySideSumInTheOneBlockOrder() {
        var random = SeededRandom(seed: 20261208)
        // Weight-like blocks (the edge blocks' huge groups decode to infinity in f16 scales).
        let sources = (0..<40).map { _ in (x: (0..<256).map { _ in Float.random(in: -0.05...0.05, using: &random) }, importance: [Float]?.none) }
        for quantizer in Self.quantizers {
            let size = quantizer.type.blockBytes
            var checked = 0
            for source in sources {
                var block = [UInt8](repeating: 0, count: size), decoded = [Float](repeating: 0, count: 256)
                block.withUnsafeMutableBytes { out in
                    source.x.withUnsafeBufferPointer {
                        quantizer.quantizeBlock($0.baseAddress!, importance: nil, method: .roundToNearest, into: out.baseAddress!)
                    }
                    decoded.withUnsafeMutableBufferPointer { quantizer.type.decodeBlocks(out.baseAddress!, blocks: 1, into: $0.baseAddress!) }
                }
                guard decoded.allSatisfy(\.isFinite), let (p, q) = Self.equalLevels(decoded) else { continue }
                var x = decoded.map { $0 + Float.random(in: -0.001...0.001, using: &random) }
                x[p] = 0x1p50
                x[q] = -0x1p50
                let (together, alone) = Self.refitBothWays(quantizer, x, [UInt8]((0..<5).flatMap { _ in block }))
                #expect(together == alone, "\(quantizer.type.name) positions \(p), \(q)")
                checked += 1
            }
            #expect(checked >= 10, "\(quantizer.type.name): only \(checked) blocks with a pair of equal levels")
        }
    }

    /// Two positions at least 4 apart in one 16-value group that decode alike and not to 0 (the
    /// same nonzero level under the same scale).
    static func equalLevels(_ decoded: [Float]) -> (Int, Int)? {
        for i in 0..<256 where decoded[i] != 0 {
            let end = i / 16 * 16 + 16
            guard i + 4 < end else { continue }
            for j in (i + 4)..<end where decoded[j] == decoded[i] { return (i, j) }
        }
        return nil
    }

    /// The uniform-weight least squares with integer sums give the general fits' bits (nil alike).
    @Test func uniformFitsEqualTheGeneralOnes() {
        var random = SeededRandom(seed: 20261206)
        for trial in 0..<400 {
            let magnitude: Float = trial % 4 == 0 ? 1e-30 : trial % 4 == 1 ? 1e20 : 0.02
            let x = (0..<256).map { _ in Float.random(in: -1...1, using: &random) * magnitude }
            let a = (0..<256).map { _ in Int.random(in: (trial % 3 == 0 ? -2048 : 0)...2047, using: &random) }
            let b = (0..<8).map { _ in trial % 5 == 0 ? 0 : Int.random(in: 0...63, using: &random) }
            x.withUnsafeBufferPointer { xp in
                let general = KQuantMath.fitScaleAndMin(xp.baseAddress!, nil, 256, a: { Float(a[$0]) }, b: { Float(b[$0 / 32]) })
                let uniform = KQuantMath.fitScaleAndMinUniform(xp.baseAddress!, 256, a: { a[$0] }, b: { b[$0 / 32] })
                #expect(general?.d.bitPattern == uniform?.d.bitPattern && general?.m.bitPattern == uniform?.m.bitPattern, "trial \(trial)")
                let scale = KQuantMath.fitScale(xp.baseAddress!, nil, 256, a: { Float(a[$0]) })
                let scaleUniform = KQuantMath.fitScaleUniform(xp.baseAddress!, 256, a: { a[$0] })
                #expect(scale?.bitPattern == scaleUniform?.bitPattern, "trial \(trial)")
            }
        }
    }
}
