import Foundation
import KilnCore
import KilnQuant
import TestSupport
import Testing

/// The q5 and K-quant writers: round-to-nearest equals llama.cpp's reference writers byte for
/// byte (Fixtures/quant/kquants_reference.json, made by Tools/make_kquant_fixtures.py from
/// llama.cpp's own `quantize_row_*_ref`), Kiln's decoders give back llama.cpp's dequantised
/// values, and the search never decodes worse than the reference.
struct KQuantWriterTests {
    static let reference = try! readJSON(Repository.fixture("quant/kquants_reference.json"))
    static let schemes: [QuantScheme] = [.q5_0, .q5_1, .q2_k, .q3_k, .q4_k, .q5_k, .q6_k]

    @Test(arguments: schemes)
    func roundToNearestMatchesLlamaCpp(_ scheme: QuantScheme) throws {
        let cases = try #require(Self.reference["cases"]?.arrayValue)
        #expect(cases.count >= 10)
        for entry in cases {
            let name = entry["name"]?.stringValue ?? "?"
            let rows = try #require(entry["rows"]?.intValue), cols = try #require(entry["cols"]?.intValue)
            let input = QuantizerTests.floats(try #require(entry["input"]?.stringValue))
            let expected = try #require(entry["quantized"]?[scheme.rawValue]?["bytes"]?.stringValue)
            let (bytes, _) = try input.withUnsafeBufferPointer {
                try TensorQuantizer.quantize($0.baseAddress!, rows: rows, cols: cols, scheme: scheme, importance: nil,
                                             method: .roundToNearest, threads: 2)
            }
            let actual = hexString(bytes.buffer)
            #expect(actual == expected ? true : false, "\(scheme) \(name): first difference at byte \(Self.firstDifference(actual, expected))")
            // Round trip: Kiln's decoder on Kiln's bytes gives llama.cpp's dequantised values.
            let decoded = try scheme.type.dequantize(bytes.buffer, elementCount: rows * cols)
            let values = QuantizerTests.floats(try #require(entry["quantized"]?[scheme.rawValue]?["dequantized"]?.stringValue))
            let differing = zip(decoded, values).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(scheme) \(name): \(differing) dequantised values differ")
        }
    }

    private static func firstDifference(_ a: String, _ b: String) -> Int {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset / 2 } ?? min(a.count, b.count) / 2
    }

    /// Property: with uniform or random importance, a searched block's weighted error never
    /// exceeds the reference block's, and the search usually improves on it.
    @Test(arguments: schemes)
    func searchIsNeverWorseThanReference(_ scheme: QuantScheme) throws {
        var random = SeededRandom(seed: 1305)
        let quantizer = try #require(scheme.quantizer)
        let n = scheme.type.blockElements
        var improved = 0
        let trials = n == 256 ? 60 : 300
        for trial in 0..<trials {
            let spread = Float([0.001, 0.02, 1, 50][trial % 4])
            let x: [Float] = (0..<n).map { i in
                let base = Float.random(in: -1...1, using: &random) * spread
                return i % 37 == trial % 37 && trial % 3 == 0 ? base * 8 : base  // some blocks with outliers
            }
            let w: [Float] = (0..<n).map { _ in trial % 2 == 0 ? 1 : Float.random(in: 0.01...10, using: &random) }
            var rtn = [UInt8](repeating: 0, count: scheme.type.blockBytes)
            var searched = rtn
            x.withUnsafeBufferPointer { xs in
                w.withUnsafeBufferPointer { ws in
                    rtn.withUnsafeMutableBytes { quantizer.quantizeBlock(xs.baseAddress!, importance: ws.baseAddress!, method: .roundToNearest, into: $0.baseAddress!) }
                    searched.withUnsafeMutableBytes { quantizer.quantizeBlock(xs.baseAddress!, importance: ws.baseAddress!, method: .search, into: $0.baseAddress!) }
                }
            }
            let a = try weightedError(x, w, rtn, scheme), b = try weightedError(x, w, searched, scheme)
            #expect(b <= a * (1 + 1e-6), "\(scheme) trial \(trial): searched \(b) > reference \(a)")
            if b < a * 0.999 { improved += 1 }
        }
        #expect(improved > trials / 4, "\(scheme): the search should usually improve on the reference (\(improved)/\(trials))")
    }

    /// Relative RMSE on Gaussian data, searched, against what each grid allows (a few percent
    /// above the reference writer's own error on the same data, printed by the test on failure).
    @Test(arguments: [(QuantScheme.q5_0, 0.06), (.q5_1, 0.05), (.q2_k, 0.40), (.q3_k, 0.20), (.q4_k, 0.10),
                      (.q5_k, 0.05), (.q6_k, 0.025)])
    func errorBounds(_ scheme: QuantScheme, _ bound: Double) throws {
        var random = SeededRandom(seed: 5)
        let rows = 16, cols = 512
        let x: [Float] = (0..<(rows * cols)).map { _ in
            let u = Float.random(in: Float.ulpOfOne...1, using: &random), v = Float.random(in: 0...1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v) * 0.02
        }
        let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
        var relative: [QuantMethod: Double] = [:]
        for method in [QuantMethod.roundToNearest, .search] {
            let (_, error) = try x.withUnsafeBufferPointer {
                try TensorQuantizer.quantize($0.baseAddress!, rows: rows, cols: cols, scheme: scheme, importance: nil, method: method, threads: 2)
            }
            relative[method] = error.rmse / rms
        }
        #expect(relative[.search]! < bound, "\(scheme): relative RMSE \(relative)")
        #expect(relative[.search]! <= relative[.roundToNearest]!, "\(scheme): \(relative)")
    }
}
