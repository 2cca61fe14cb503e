import KilnCore
import KilnKernels
import TestSupport
import Testing

/// Every tier's products against the Swift reference, on random weights and activations, with
/// shapes that are not multiples of the SIMD width, the 8-row group or the 4-row batch tile.
///
/// Tolerance: |y − y_ref| ≤ 1e-5 · Σ_k |w_k|·|x_k| (for q4_1 |w| widened to |d·n| + |m|, see
/// `TestMatrix.magnitudes`). Both sides compute the same exact integer block dots; what differs
/// is f32 rounding of scale products and the order of f32 sums, whose error is at most a few
/// ulps of that sum of magnitudes per block summed (≤ 2e-6 of it for the sizes here). A wrong
/// block, row, nibble or scale is off by orders of magnitude more.
struct MatmulTests {
    static let tolerance = 1e-5

    /// Every quantised type: all but q8_k (an activation format, served by the dequantising
    /// fallback) have kernels on every tier.
    static let quantizedTypes: [ElementType] = [.q8_0, .q4_0, .q4_1, .q8_0x8, .q4_0x8, .q4_1x8, .q5_0, .q5_1, .kq4, .kq4x8, .q5_0x8, .q5_1x8]
    static let superBlockTypes: [ElementType] = [.q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .q8_k]
    static let floatTypes: [ElementType] = [.f32, .f16, .bf16]

    /// (rows, cols, batch): rows around the 8-row group and 4-row tile, batches around the 4-wide
    /// batch tile, cols from one block up.
    static let quantizedShapes: [(Int, Int, Int)] = [
        (1, 32, 1), (3, 96, 2), (8, 64, 1), (13, 160, 3), (16, 256, 5), (67, 544, 4), (9, 32, 9), (24, 1024, 1), (5, 224, 7),
        (17, 96, 17), (33, 160, 65), // prompt batches with tails: 17 and 65 rows against the 4- and 16-row tiles
    ]
    static let superBlockShapes: [(Int, Int, Int)] = [
        (1, 256, 1), (3, 512, 2), (13, 256, 5), (9, 768, 3),
        (16, 2304, 6), (9, 512, 4), (24, 256, 9), // prompt batches: several 2048-value panels, partial groups, batch tails
        (17, 512, 17), (40, 256, 65),
        // AVX-512: a 32-row quad (q4_K/q5_K) or 16-row pairs, then an 8-row group, past the 256-row batch blocks; a quad over
        // 2-super-block panels with a 1-row last group
        (40, 256, 259), (33, 768, 9),
        // Pooled products are cut into chunks of whole 16-row pairs, and a chunk runs the 32-row quads only when it holds
        // 32 rows or more: the shapes above are cut into 16-row chunks on 2 threads. 384 rows make chunks of 48 (a quad,
        // then a pair) on 2 threads, and the whole product in quads on 1.
        (384, 256, 9),
    ]
    static let floatShapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 7, 2), (5, 33, 3), (8, 100, 1), (13, 257, 5), (4, 16, 4), (67, 64, 2), (2, 1000, 7),
        (9, 2100, 4), (6, 1030, 3), // prompt batches: K in several 1024-column panels, with tails
        (9, 1100, 20), (13, 100, 49), (8, 64, 8), // batches transposed for the broadcast tiles: 48/32/16-wide tails
        (17, 65, 17), (5, 3, 65), (21, 17, 1), // odd widths (K not a multiple of any tile), batches 17 and 65
        // the AVX-512 tile's batch blocks of 128 rows, with a 3-row tail block; its transposed batch
        // built in 16-row strips shared over the pool (131 × 1100 values), with a 12-column tail
        (12, 1100, 131),
    ]

    static func shapes(_ type: ElementType) -> [(Int, Int, Int)] {
        type.blockElements == 256 ? superBlockShapes : type.isQuantized ? quantizedShapes : floatShapes
    }

    static func quantizesActivations(_ type: ElementType) -> Bool { WeightMatrix.quantizesActivations(type) }

    @Test(arguments: quantizedTypes + superBlockTypes + floatTypes)
    func everyTierMatchesTheReference(type: ElementType) {
        var random = SeededRandom(seed: UInt64(type.id) &+ 17)
        let shapes = Self.shapes(type)
        for (rows, cols, batch) in shapes {
            let matrix = TestMatrix.random(type, rows: rows, cols: cols, &random)
            let x = random.activations(batch * cols)
            let expected = product(reference, matrix, x, batch: batch)
            let bound = matrix.magnitudes(x, batch: batch)
            for table in allTables where table.tier != .reference {
                let y = product(table, matrix, x, batch: batch)
                for i in y.indices {
                    #expect(abs(Double(y[i]) - Double(expected[i])) <= Self.tolerance * bound[i] + 1e-30,
                            "\(type) \(table.tier) [\(rows)×\(cols)] batch \(batch): y[\(i)] = \(y[i]), reference \(expected[i])")
                }
            }
        }
    }

    /// The reference against an independent computation: a Double dot of the registry-decoded
    /// weights with the unquantised activations. For quantised weights the only difference is the
    /// activations' int8 rounding, at most d_x/2 per value, so |Δ| ≤ Σ_blocks (d_x/2)·Σ|w| (plus
    /// 1e-6 of the magnitudes for f32 rounding of decoded values and of the result).
    @Test(arguments: quantizedTypes + superBlockTypes + floatTypes)
    func referenceMatchesDoublePrecisionDot(type: ElementType) {
        var random = SeededRandom(seed: UInt64(type.id) &+ 99)
        for (rows, cols, batch) in type.blockElements == 256 ? [(5, 256, 2), (3, 512, 1)] : [(5, 96, 2), (16, 256, 1)] {
            let matrix = TestMatrix.random(type, rows: rows, cols: cols, &random)
            let x = random.activations(batch * cols)
            let y = product(reference, matrix, x, batch: batch)
            let w = matrix.dequantized()
            let bound = matrix.magnitudes(x, batch: batch)
            for b in 0..<batch {
                for r in 0..<rows {
                    var exact = 0.0, quantizationError = 0.0
                    for block in stride(from: 0, to: cols, by: 32) {
                        let end = min(cols, block + 32)
                        let amax = (block..<end).map { Double(abs(x[b * cols + $0])) }.max()!
                        for k in block..<end {
                            exact += Double(w[r * cols + k]) * Double(x[b * cols + k])
                            if Self.quantizesActivations(type) {
                                quantizationError += abs(Double(w[r * cols + k])) * amax / 127 / 2
                            }
                        }
                    }
                    let allowed = quantizationError * 1.0001 + 1e-6 * bound[b * rows + r] + 1e-30
                    #expect(abs(Double(y[b * rows + r]) - exact) <= allowed, "\(type) row \(r) batch \(b): \(y[b * rows + r]) vs \(exact)")
                }
            }
        }
    }

    /// An interleaved matrix gives the products of the row-major matrix it was made from — on the
    /// reference, portable and AVX2 tiers bit for bit (their row-major kernels compute each row as
    /// the interleaved ones do), so converting a GGUF to `.kiln` cannot move a perplexity; NEON's
    /// two layouts still sum in different orders and agree within rounding.
    @Test(arguments: [ElementType.q8_0x8, .q4_0x8, .q4_1x8, .kq4x8, .q5_0x8, .q5_1x8])
    func interleavedMatchesRowMajor(type: ElementType) {
        var random = SeededRandom(seed: 5)
        for (rows, cols, batch) in [(21, 128, 3), (67, 576, 1), (16, 544, 6)] {
            let matrix = TestMatrix.random(type, rows: rows, cols: cols, &random)
            let rowMajor = TestMatrix.deinterleaved(matrix)
            let x = random.activations(batch * cols)
            let bound = matrix.magnitudes(x, batch: batch)
            for table in allTables {
                let a = product(table, matrix, x, batch: batch), b = product(table, rowMajor, x, batch: batch)
                if table.tier == .neon {
                    for i in a.indices { #expect(abs(Double(a[i]) - Double(b[i])) <= Self.tolerance * bound[i], "\(table.tier) y[\(i)]") }
                } else {
                    #expect(a == b, "\(type) \(table.tier) [\(rows)×\(cols)] batch \(batch)")
                }
            }
        }
    }

    /// The AVX-VNNI and AVX-512 (and VBMI) tiers change only how the exact integer dots are formed (and how
    /// many rows share an instruction), so their quantised products are the AVX2 tier's, bit for
    /// bit, for every type, batch tile and tail (odd group counts included). The AVX-512 tiles take
    /// 8, 4, 2 or 1 activation rows (the _1 types and kq4 at 8 in two passes over the blocks), so the
    /// batches cover each width and their tails: 1, 2, 3, 5, 6, 7, 8, 9, 17 and 65 (at a width
    /// where the batch is cut into blocks for L2). From batch 24 they read panels decoded once per
    /// chunk of 16 blocks, 32 or 16 rows at a time, carrying each sum from chunk to chunk.
    @Test(arguments: quantizedTypes)
    func wideTiersMatchAVX2Exactly(type: ElementType) throws {
        guard let avx2 = KernelTable(tier: .avx2) else { return }
        let wide = [KernelTier.avxvnni, .avx512, .avx512vbmi].compactMap(KernelTable.init(tier:))
        var random = SeededRandom(seed: 6)
        for (rows, cols, batch) in [(21, 128, 3), (67, 576, 1), (16, 544, 6), (40, 256, 9), (24, 64, 5), (9, 96, 1),
                                    (33, 160, 17), (24, 288, 8), (16, 64, 2), (13, 96, 7),
                                    // AVX-512 batch blocks of 512 KiB of activations: 64 rows of 8192, then a 1-row tail
                                    (24, 8192, 65),
                                    // AVX-512 prompt panels (batch ≥ 24): 384 rows make 48-row chunks on 2 threads
                                    // (two panels, then one), 40 a lone group; 17 and 33 blocks carry the sums over
                                    // a second chunk of blocks; batches 30 and 27 end in 6- and 3-row tiles; 1 MiB
                                    // batch blocks at 16,384 columns: 64 rows, then 6
                                    (384, 544, 30), (40, 1056, 27), (72, 96, 24), (24, 16384, 70)] {
            let matrix = TestMatrix.random(type, rows: rows, cols: cols, &random)
            let x = random.activations(batch * cols)
            let expected = product(avx2, matrix, x, batch: batch)
            for table in wide {
                #expect(product(table, matrix, x, batch: batch) == expected, "\(type) \(table.tier) [\(rows)×\(cols)] batch \(batch)")
            }
        }
    }

    /// Products of one input by several matrices of different types, run as one pool job, give
    /// each product's bits as computed alone (the rows are split differently, never a row's sum).
    @Test func groupedProductsMatchSeparateOnes() {
        var random = SeededRandom(seed: 11)
        let matrices = [TestMatrix.random(.q4_0x8, rows: 21, cols: 256, &random), TestMatrix.random(.q6_k, rows: 9, cols: 256, &random),
                        TestMatrix.random(.f16, rows: 13, cols: 256, &random), TestMatrix.random(.kq4x8, rows: 40, cols: 256, &random),
                        TestMatrix.random(.q8_0, rows: 300, cols: 256, &random),
                        // Other offset types after q4_0x8: the shared −offset·Σx is q4_0's, so these
                        // must subtract their own (matmul.c's block_offset).
                        TestMatrix.random(.q8_0x8, rows: 24, cols: 256, &random), TestMatrix.random(.q5_0x8, rows: 17, cols: 256, &random)]
        for batch in [1, 3, 20] {
            let x = random.activations(batch * 256)
            for table in allTables where table.tier != .reference {
                let separate = matrices.map { product(table, $0, x, batch: batch) }
                var outputs = matrices.map { [Float](repeating: .nan, count: batch * $0.rows) }
                let pointers = outputs.indices.map { i in UnsafeMutablePointer<Float>.allocate(capacity: outputs[i].count) }
                defer { pointers.forEach { $0.deallocate() } }
                withMatrices(matrices) { ws in x.withUnsafeBufferPointer { table.matmul(ws, $0.baseAddress!, batch: batch, pointers) } }
                for i in outputs.indices { outputs[i] = Array(UnsafeBufferPointer(start: pointers[i], count: outputs[i].count)) }
                #expect(outputs == separate, "\(table.tier) batch \(batch)")
            }
        }
    }

    /// A row-wise step given to the products (`before:`) runs once per row, before that row is
    /// read: inside the products' pool job for quantised batches (each row written, then
    /// quantised, by the job's first tasks; a task per row from 64 rows of 256 on), on its own
    /// first for one row, float weights or no kernel. The results are those of the step followed
    /// by the products.
    @Test func productsAfterARowStepMatchTheStepThenTheProducts() {
        var random = SeededRandom(seed: 12)
        let quantized = [TestMatrix.random(.q4_1x8, rows: 96, cols: 256, &random), TestMatrix.random(.q8_0x8, rows: 40, cols: 256, &random),
                         TestMatrix.random(.kq4x8, rows: 24, cols: 256, &random)]
        let floats = [TestMatrix.random(.f16, rows: 13, cols: 256, &random)]
        for matrices in [quantized, floats, quantized + floats] {
            for batch in [1, 3, 8, 80] {
                let source = random.activations(batch * 256)
                // The step: row b of x becomes 2·source[b] + b.
                let stepped = (0..<(batch * 256)).map { 2 * source[$0] + Float($0 / 256) }
                for table in allTables {
                    let expected = matrices.map { product(table, $0, stepped, batch: batch) }
                    let x = UnsafeMutablePointer<Float>.allocate(capacity: batch * 256)
                    x.initialize(repeating: .nan, count: batch * 256)
                    let runs = UnsafeMutablePointer<Int>.allocate(capacity: batch)
                    runs.initialize(repeating: 0, count: batch)
                    let pointers = matrices.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0.rows) }
                    defer { x.deallocate(); runs.deallocate(); pointers.forEach { $0.deallocate() } }
                    withMatrices(matrices) { ws in
                        table.matmul(ws, x, batch: batch, pointers) { b0, b1 in
                            for b in b0..<b1 {
                                runs[b] += 1
                                for i in 0..<256 { x[b * 256 + i] = 2 * source[b * 256 + i] + Float(b) }
                            }
                        }
                    }
                    let outputs = matrices.indices.map { Array(UnsafeBufferPointer(start: pointers[$0], count: batch * matrices[$0].rows)) }
                    #expect(outputs == expected, "\(table.tier) batch \(batch) types \(matrices.map(\.type.name))")
                    #expect((0..<batch).allSatisfy { runs[$0] == 1 }, "\(table.tier) batch \(batch): each row stepped once")
                }
            }
        }
    }

    /// Large enough to be split over the pool: the rows are divided, never the arithmetic inside
    /// a row, so the result is bit-identical for any thread count.
    @Test func threadCountDoesNotChangeResults() {
        var random = SeededRandom(seed: 8)
        let matrix = TestMatrix.random(.q4_0x8, rows: 1000, cols: 512, &random)
        let x = random.activations(3 * 512)
        let initial = Kernels.threads
        defer { Kernels.setThreads(initial) }
        for table in allTables where table.tier != .reference {
            Kernels.setThreads(1)
            let one = product(table, matrix, x, batch: 3)
            Kernels.setThreads(2)
            let two = product(table, matrix, x, batch: 3)
            Kernels.setThreads(3)
            let three = product(table, matrix, x, batch: 3)
            #expect(one == two && two == three, "\(table.tier)")
        }
    }

    /// A realistic-sized product through the shared pool, against the reference.
    @Test func largeProductMatchesReference() {
        var random = SeededRandom(seed: 21)
        for type in [ElementType.q8_0x8, .q4_1, .f16] {
            let matrix = TestMatrix.random(type, rows: 264, cols: 1536, &random)
            let x = random.activations(2 * 1536)
            let expected = product(reference, matrix, x, batch: 2)
            let bound = matrix.magnitudes(x, batch: 2)
            for table in allTables where table.tier != .reference {
                let y = product(table, matrix, x, batch: 2)
                let bad = y.indices.filter { abs(Double(y[$0]) - Double(expected[$0])) > Self.tolerance * bound[$0] }
                #expect(bad.isEmpty, "\(type) \(table.tier): \(bad.count) results off, first \(bad.first.map { "\(y[$0]) vs \(expected[$0])" } ?? "")")
            }
        }
    }

    @Test func emptyProductsDoNothing() {
        var y: [Float] = [7]
        let x: [Float] = [1]
        for table in allTables {
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    table.matmul(WeightMatrix(type: .f32, rows: 0, cols: 1, data: xs.baseAddress!), xs.baseAddress!, batch: 1, ys.baseAddress!)
                    table.matmul(WeightMatrix(type: .f32, rows: 1, cols: 1, data: xs.baseAddress!), xs.baseAddress!, batch: 0, ys.baseAddress!)
                }
            }
        }
        #expect(y == [7])
    }

    /// Activation quantisation is bit-identical on every tier (so the integer dots agree), and
    /// matches its definition on hand-picked values.
    @Test func activationQuantizationIsIdenticalOnEveryTier() {
        var random = SeededRandom(seed: 4)
        var x = random.activations(32 * 40)
        for j in 64..<96 { x[j] = 0 }
        x[96] = 127; x[97] = -127; x[98] = 0.5; x[99] = 1.5; x[100] = -0.5  // amax 127: exact halves round to even
        func run(_ table: KernelTable) -> ([Int8], [Float], [Int32]) {
            var q = [Int8](repeating: 0, count: x.count), d = [Float](repeating: 0, count: 40), s = [Int32](repeating: 0, count: 40)
            table.quantizeActivations(x, cols: x.count, q: &q, d: &d, sum: &s)
            return (q, d, s)
        }
        let (q, d, s) = run(reference)
        #expect(Array(q[96..<101]) == [127, -127, 0, 2, 0])
        #expect(d[2] == 0 && s[2] == 0 && q[64..<96].allSatisfy { $0 == 0 })
        for table in allTables {
            let (q2, d2, s2) = run(table)
            #expect(q2 == q && d2 == d && s2 == s, "\(table.tier)")
        }
    }
}
