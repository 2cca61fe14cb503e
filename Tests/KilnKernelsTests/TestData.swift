import KilnCore
import KilnKernels
import TestSupport

/// Every tier this machine runs, reference first: the property tests loop over all of them.
let allTables: [KernelTable] = KernelTier.supported.compactMap(KernelTable.init(tier:))
let reference = KernelTable(tier: .reference)!

extension SeededRandom {
    mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) / Float(1 << 24)
    }

    /// Activations like a model's: mostly small, a few outliers, now and then an all-zero block
    /// (the quantiser's max|x| = 0 case).
    mutating func activations(_ count: Int) -> [Float] {
        var x = (0..<count).map { _ in uniform(-2, 2) }
        for i in stride(from: 0, to: count, by: 97) { x[i] *= 20 }
        if count >= 64, next() % 2 == 0 { for j in 32..<64 { x[j] = 0 } }
        return x
    }
}

/// A weight matrix's bytes in a given type, owned by the test.
struct TestMatrix {
    let type: ElementType
    let rows: Int
    let cols: Int
    let bytes: [UInt8]

    func withMatrix<R>(_ body: (WeightMatrix) -> R) -> R {
        bytes.withUnsafeBytes { body(WeightMatrix(type: type, rows: rows, cols: cols, data: $0.baseAddress!)) }
    }

    /// The values through the registry's decoders (independent of the kernels).
    func dequantized() -> [Float] {
        bytes.withUnsafeBytes { try! type.dequantize($0, shape: [rows, cols]) }
    }

    /// Σ_k |w_k|·|x_k| per row: the scale of the rounding error any correct tier makes. For the
    /// types with minima (q4_1, q5_1, q2_K, q4_K, q5_K) the kernels compute d·Σq·x and m·Σx
    /// separately and these can cancel, so |w| is widened by twice the largest |w| of its block of
    /// 32, which bounds both terms.
    func magnitudes(_ x: [Float], batch: Int) -> [Double] {
        let w = dequantized()
        let hasMinima = [ElementType.q4_1, .q5_1, .q2_k, .q4_k, .q5_k].contains(type.interleaving?.base ?? type)
        var out = [Double](repeating: 0, count: batch * rows)
        for b in 0..<batch {
            for r in 0..<rows {
                var total = 0.0
                for k in 0..<cols {
                    let block = r * cols + k / 32 * 32
                    let widening = hasMinima ? 2 * Double(w[block..<min(block + 32, r * cols + cols)].map(abs).max()!) : 0
                    total += (Double(abs(w[r * cols + k])) + widening) * Double(abs(x[b * cols + k]))
                }
                out[b * rows + r] = total
            }
        }
        return out
    }

    static func deinterleaved(_ m: TestMatrix) -> TestMatrix {
        let (base, owned) = m.bytes.withUnsafeBytes { Kernels.deinterleave(m.type, rows: m.rows, cols: m.cols, data: $0.baseAddress!)! }
        return TestMatrix(type: base, rows: m.rows, cols: m.cols, bytes: Array(owned.buffer))
    }

    /// Random weights of `type`: floats in [−1, 1]; quantised blocks with random codes and
    /// realistic scales (q4_1 minima about −8·d, as the quantiser makes them).
    static func random(_ type: ElementType, rows: Int, cols: Int, _ random: inout SeededRandom) -> TestMatrix {
        if let interleaving = type.interleaving {
            let source = Self.random(interleaving.base, rows: rows, cols: cols, &random)
            let bytes = source.bytes.withUnsafeBytes { raw -> [UInt8] in
                var out = [UInt8](repeating: 0xAA, count: try! type.byteCount(shape: [rows, cols]))
                out.withUnsafeMutableBytes { interleaving.interleave(raw.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!) }
                return out
            }
            return TestMatrix(type: type, rows: rows, cols: cols, bytes: bytes)
        }
        let values = (0..<(rows * cols)).map { _ in random.uniform(-1, 1) }
        var bytes: [UInt8] = []
        func append16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        switch type {
        case .f32: values.forEach { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        case .f16: values.forEach { append16(HalfPrecision.halfFromFloat($0)) }
        case .bf16: values.forEach { append16(HalfPrecision.bfloatFromFloat($0)) }
        default:
            for _ in 0..<(rows * cols / type.blockElements) {
                var block = random.bytes(type.blockBytes)
                func put(_ value: UInt16, at offset: Int) {
                    block[offset] = UInt8(value & 0xFF)
                    block[offset + 1] = UInt8(value >> 8)
                }
                let d = random.uniform(0.001, 0.05) * (random.next() % 2 == 0 ? 1 : -1)
                switch type {
                case .q4_1, .q5_1:
                    put(HalfPrecision.halfFromFloat(d), at: 0)
                    put(HalfPrecision.halfFromFloat(-8 * abs(d) * random.uniform(0.5, 1.5)), at: 2)
                case .q2_k, .q4_k, .q5_k:  // d and dmin; 16-bit at 80 for q2_k, at 0 for q4_k/q5_k
                    put(HalfPrecision.halfFromFloat(abs(d) / 8), at: type == .q2_k ? 80 : 0)
                    put(HalfPrecision.halfFromFloat(abs(d) / 8), at: type == .q2_k ? 82 : 2)
                case .q3_k: put(HalfPrecision.halfFromFloat(d / 8), at: 108)
                case .q6_k: put(HalfPrecision.halfFromFloat(d / 8), at: 208)
                case .q8_k: block.replaceSubrange(0..<4, with: withUnsafeBytes(of: d.bitPattern.littleEndian, Array.init))
                case .kq4:  // scale exponents: scale(e) = 2^(e/8 − 28), so 150…190 gives about 2^−9…2^−4
                    block[0] = UInt8(150 + random.next() % 40)
                    block[1] = UInt8(150 + random.next() % 40)
                default: put(HalfPrecision.halfFromFloat(d), at: 0)  // q8_0, q4_0, q5_0
                }
                bytes += block
            }
        }
        return TestMatrix(type: type, rows: rows, cols: cols, bytes: bytes)
    }
}

/// Runs a product on `table` and returns Y [batch, rows].
func product(_ table: KernelTable, _ m: TestMatrix, _ x: [Float], batch: Int) -> [Float] {
    var y = [Float](repeating: .nan, count: batch * m.rows)
    m.withMatrix { w in
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { table.matmul(w, xs.baseAddress!, batch: batch, $0.baseAddress!) } }
    }
    return y
}

/// |a − b| ≤ atol + rtol·|b| for every element; returns the first failing index, if any.
func firstMismatch(_ a: [Float], _ b: [Float], rtol: Double, atol: Double) -> Int? {
    guard a.count == b.count else { return -1 }
    return a.indices.first { i in
        let (x, y) = (Double(a[i]), Double(b[i]))
        return !(abs(x - y) <= atol + rtol * abs(y)) && !(x.isNaN && y.isNaN)
    }
}

/// Runs `body` with views of every matrix (their bytes kept alive for the call).
func withMatrices<R>(_ matrices: [TestMatrix], _ body: ([WeightMatrix]) -> R) -> R {
    func nest(_ i: Int, _ views: [WeightMatrix]) -> R {
        i == matrices.count ? body(views) : matrices[i].withMatrix { nest(i + 1, views + [$0]) }
    }
    return nest(0, [])
}
