import Foundation
import KilnCore
import KilnQuant
import TestSupport
import Testing

/// Round-to-nearest quantisation equals gguf-py's reference byte for byte; searched scales are
/// never worse than round-to-nearest; every scheme stays within its error bound.
struct QuantizerTests {
    static let reference = try! readJSON(Repository.fixture("quant/reference.json"))

    static func floats(_ hex: String) -> [Float] {
        let bytes = bytesFromHex(hex)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    @Test(arguments: [QuantScheme.q8_0, .q4_0, .q4_1])
    func roundToNearestMatchesGGUFPy(_ scheme: QuantScheme) throws {
        let cases = try #require(Self.reference["cases"]?.arrayValue)
        for entry in cases {
            let name = entry["name"]?.stringValue ?? "?"
            let rows = try #require(entry["rows"]?.intValue), cols = try #require(entry["cols"]?.intValue)
            let input = Self.floats(try #require(entry["input"]?.stringValue))
            let expected = try #require(entry["quantized"]?[scheme.rawValue]?["bytes"]?.stringValue)
            let (bytes, _) = try input.withUnsafeBufferPointer {
                try TensorQuantizer.quantize($0.baseAddress!, rows: rows, cols: cols, scheme: scheme, importance: nil,
                                             method: .roundToNearest, threads: 2)
            }
            #expect(hexString(bytes.buffer) == expected, "\(scheme) \(name)")
            // And our decoder agrees with gguf-py's dequantisation.
            let decoded = try scheme.type.dequantize(bytes.buffer, elementCount: rows * cols)
            let reference = Self.floats(try #require(entry["quantized"]?[scheme.rawValue]?["dequantized"]?.stringValue))
            #expect(decoded.map(\.bitPattern) == reference.map(\.bitPattern), "\(scheme) \(name) dequantised")
        }
    }

    /// Property: with random importance, the searched result's weighted error never exceeds
    /// round-to-nearest's.
    @Test(arguments: [QuantScheme.q8_0, .q4_0, .q4_1, .kq4])
    func searchIsNeverWorseThanRoundToNearest(_ scheme: QuantScheme) throws {
        var random = SeededRandom(seed: 99)
        let quantizer = try #require(scheme.quantizer)
        var improved = 0
        for trial in 0..<400 {
            let spread = Float([0.001, 0.02, 1, 50][trial % 4])
            let x: [Float] = (0..<32).map { i in
                let base = Float.random(in: -1...1, using: &random) * spread
                return i == trial % 32 && trial % 3 == 0 ? base * 8 : base  // some blocks with an outlier
            }
            let w: [Float] = (0..<32).map { _ in trial % 2 == 0 ? 1 : Float.random(in: 0.01...10, using: &random) }
            var rtn = [UInt8](repeating: 0, count: scheme.type.blockBytes)
            var searched = rtn
            x.withUnsafeBufferPointer { xs in
                w.withUnsafeBufferPointer { ws in
                    rtn.withUnsafeMutableBytes { quantizer.quantizeBlock(xs.baseAddress!, importance: ws.baseAddress!, method: .roundToNearest, into: $0.baseAddress!) }
                    searched.withUnsafeMutableBytes { quantizer.quantizeBlock(xs.baseAddress!, importance: ws.baseAddress!, method: .search, into: $0.baseAddress!) }
                }
            }
            let a = try weightedError(x, w, rtn, scheme), b = try weightedError(x, w, searched, scheme)
            #expect(b <= a * (1 + 1e-6), "\(scheme) trial \(trial): searched \(b) > rtn \(a)")
            if b < a * 0.999 { improved += 1 }
        }
        if scheme != .kq4 { #expect(improved > 40, "the search should usually improve on round-to-nearest (\(improved)/400)") }
    }

    /// Error bounds on Gaussian data: each scheme's relative RMSE against what its grid allows.
    @Test(arguments: [(QuantScheme.q8_0, 0.006), (.q4_0, 0.115), (.q4_1, 0.10), (.kq4, 0.095)])
    func errorBounds(_ scheme: QuantScheme, _ bound: Double) throws {
        var random = SeededRandom(seed: 5)
        let rows = 64, cols = 256
        // Box–Muller normals.
        let x: [Float] = (0..<(rows * cols)).map { _ in
            let u = Float.random(in: Float.ulpOfOne...1, using: &random), v = Float.random(in: 0...1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v) * 0.02
        }
        let (_, error) = try x.withUnsafeBufferPointer {
            try TensorQuantizer.quantize($0.baseAddress!, rows: rows, cols: cols, scheme: scheme, importance: nil, method: .search, threads: 2)
        }
        let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
        #expect(error.rmse / rms < bound, "\(scheme): relative RMSE \(error.rmse / rms)")
        #expect(error.snrDecibels > 10 * log10(1 / (bound * bound)))
    }

    @Test func quantisationIsDeterministicAcrossThreadCounts() throws {
        var random = SeededRandom(seed: 8)
        let x = (0..<(96 * 256)).map { _ in Float.random(in: -1...1, using: &random) }
        for scheme in [QuantScheme.q4_0, .kq4, .q5_0, .q4_k, .q6_k] {
            let one = try x.withUnsafeBufferPointer { try TensorQuantizer.quantize($0.baseAddress!, rows: 96, cols: 256, scheme: scheme, importance: nil, method: .search, threads: 1) }
            let two = try x.withUnsafeBufferPointer { try TensorQuantizer.quantize($0.baseAddress!, rows: 96, cols: 256, scheme: scheme, importance: nil, method: .search, threads: 2) }
            #expect(Array(one.0.buffer) == Array(two.0.buffer))
            #expect(one.1 == two.1)
        }
    }

    /// Rows decoded a chunk at a time (how an f16 model is quantised, with no f32 copy of the
    /// whole tensor) give the bytes and the error report of the same matrix in memory, for a
    /// row count that ends in a partial chunk and an importance vector.
    @Test func rowsDecodedByChunksQuantiseLikeTheWholeMatrix() throws {
        var random = SeededRandom(seed: 11)
        let rows = 211, cols = 512
        let x = (0..<(rows * cols)).map { _ in Float.random(in: -1...1, using: &random) }
        let importance = (0..<cols).map { _ in Float.random(in: 0.1...2, using: &random) }
        let box = UncheckedSendable(x)
        let calls = DecodeCalls()
        for scheme in [QuantScheme.q4_0, .kq4, .q8_0, .q4_k] {
            let whole = try x.withUnsafeBufferPointer {
                try TensorQuantizer.quantize($0.baseAddress!, rows: rows, cols: cols, scheme: scheme, importance: importance, method: .search, threads: 2)
            }
            let chunked = try TensorQuantizer.quantize(.decode { first, count, into in
                calls.count()
                box.value.withUnsafeBufferPointer { into.update(from: $0.baseAddress! + first * cols, count: count * cols) }
            }, rows: rows, cols: cols, scheme: scheme, importance: importance, method: .search, threads: 2)
            #expect(Array(chunked.0.buffer) == Array(whole.0.buffer), "\(scheme)")
            #expect(chunked.1 == whole.1, "\(scheme)")
        }
        #expect(calls.total > 4, "the rows were decoded in chunks, not at once")
    }
}

/// Counts the calls of a decoding closure that runs on several threads.
private final class DecodeCalls: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var calls = 0
    func count() { lock.lock(); calls += 1; lock.unlock() }
    var total: Int { lock.lock(); defer { lock.unlock() }; return calls }
}
