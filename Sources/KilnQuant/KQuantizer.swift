import KilnCore

/// The per-group result of a K-quant writer's first phase: a float scale (and minimum) for each
/// 16- or 32-value group and their levels, before the scales themselves are quantised.
package struct GroupFit {
    package var scales: UnsafeMutablePointer<Float>
    package var mins: UnsafeMutablePointer<Float>
    package var levels: UnsafeMutablePointer<UInt8>
}

/// A K-quant writer in ggml's two phases: fit each group (the expensive search), then quantise
/// the groups' scales against one f16 super-block scale and re-round every value to the scales
/// actually stored. With uniform weights and `scaleFactor` 1 that is ggml's reference writer,
/// byte for byte; Kiln's search varies both and keeps whichever block decodes closest.
package protocol KQuantizer: BlockQuantizer {
    /// Phase one. `importance` nil gives ggml's group weights exactly; otherwise they are
    /// multiplied by it.
    func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into fit: GroupFit)
    /// Phase one for `blocks` consecutive blocks: block k's fit at `scales + 16k`, `mins + 16k`
    /// and `levels + 256k`, the bits of fitting each on its own.
    func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: Int, into fit: GroupFit)
    /// Phase two: the super-block scale is ggml's times `scaleFactor`; writes the block.
    func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer)
    /// Re-fits the f16 super-block scale(s) of a written block by weighted least squares over its
    /// integer group scales and levels, then re-rounds its levels; false if nothing to fit.
    func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool
    /// `refit` of each of several blocks of the same `x`; `refitted[k]` tells whether block k
    /// was. Independent blocks, so a writer whose refit is a long chain of dependent sums can
    /// interleave the blocks' chains (the same bits as one at a time).
    func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: UnsafeBufferPointer<UnsafeMutableRawPointer>,
               refitted: UnsafeMutablePointer<Bool>)
}

extension GroupFit {
    /// Block k's part of a many-block fit (`KQuantizer.fitGroups(_:importance:blocks:into:)`).
    func block(_ k: Int) -> GroupFit { GroupFit(scales: scales + 16 * k, mins: mins + 16 * k, levels: levels + 256 * k) }
}

extension KQuantizer {
    package func fitGroups(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: Int, into fit: GroupFit) {
        for k in 0..<blocks { fitGroups(x + 256 * k, importance: importance.map { $0 + 256 * k }, into: fit.block(k)) }
    }

    /// A row, two blocks at a time: their fits in one call (`fitGroups(_:importance:blocks:into:)`:
    /// q4_K/q5_K's eight groups a block filled half of the sixteen lanes of their C fit), then each
    /// block's search; the bytes of `quantizeBlock` block by block.
    package func quantize(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, method: QuantMethod,
                          into out: UnsafeMutableRawPointer) {
        let n = type.blockElements, blocks = count / n
        let weighted = method == .search && importance != nil
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 2 * 32) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * 2 * 256) { bytes in
                let f = floats.baseAddress!, l = bytes.baseAddress!
                let fit = GroupFit(scales: f, mins: f + 32, levels: l)
                let weightedFit = GroupFit(scales: f + 64, mins: f + 96, levels: l + 512)
                var b = 0
                while b < blocks {
                    let pair = min(2, blocks - b)
                    fitGroups(x + b * n, importance: nil, blocks: pair, into: fit)
                    if weighted { fitGroups(x + b * n, importance: importance! + b * n, blocks: pair, into: weightedFit) }
                    for k in 0..<pair {
                        search(x + (b + k) * n, importance: importance.map { $0 + (b + k) * n }, method: method,
                               into: out + (b + k) * type.blockBytes, fit: fit.block(k), weightedFit: weighted ? weightedFit.block(k) : nil)
                    }
                    b += pair
                }
            }
        }
    }

    package func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, blocks: UnsafeBufferPointer<UnsafeMutableRawPointer>,
                       refitted: UnsafeMutablePointer<Bool>) {
        for (k, block) in blocks.enumerated() { refitted[k] = refit(x, importance: importance, block: block) }
    }

    /// The search: ggml's block first, then for each pass (uniform weights, and the importance's
    /// when given) and each super-scale factor the packed block and its refit, keeping the first
    /// that decodes closest. Every candidate is made first and then measured, the errors' chains
    /// four at a time, and the choice runs in that order: the bits of `referenceQuantizeBlock`,
    /// which measures each as it is made (KQuantSearchTests). One at a time, each candidate's
    /// error and refit was a 256-long chain of dependent adds: two fifths of a q4_K quantisation.
    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                               into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { bytes in
                let fit = GroupFit(scales: floats.baseAddress!, mins: floats.baseAddress! + 16, levels: bytes.baseAddress!)
                let weightedFit = GroupFit(scales: floats.baseAddress! + 32, mins: floats.baseAddress! + 48, levels: bytes.baseAddress! + 256)
                fitGroups(x, importance: nil, into: fit)
                let weighted = method == .search && importance != nil
                if weighted { fitGroups(x, importance: importance, into: weightedFit) }
                search(x, importance: importance, method: method, into: out, fit: fit, weightedFit: weighted ? weightedFit : nil)
            }
        }
    }

    /// The block from its fits (`weightedFit`: with the importance, when the search has one).
    private func search(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod, into out: UnsafeMutableRawPointer,
                        fit: GroupFit, weightedFit: GroupFit?) {
        let n = type.blockElements, size = type.blockBytes
        let factors = KQuantMath.superScaleFactors, passes = weightedFit == nil ? 1 : 2
        // Candidate 0 is ggml's block (in `out`); then per pass the factors' packed blocks, then their refits.
        let capacity = 1 + 2 * passes * factors.count
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * n + capacity) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity * size) { bytes in
                withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: capacity) { candidates in
                    withUnsafeTemporaryAllocation(of: Bool.self, capacity: capacity) { considered in
                        withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { order in
                            let errors = floats.baseAddress! + 4 * n
                            pack(x, fit, scaleFactor: 1, into: out)
                            guard method == .search else { return }
                            let trials = UnsafeMutableRawPointer(bytes.baseAddress!)
                            for k in 0..<capacity { candidates[k] = k == 0 ? out : trials + (k - 1) * size }
                            considered[0] = true
                            for pass in 0..<passes {
                                let weighted = pass == 1, fit = weighted ? weightedFit! : fit
                                let packs = 1 + 2 * pass * factors.count, refits = packs + factors.count
                                // The packs in order (each re-rounds into fit.levels, which the next one
                                // starts from), then the pass's refits together.
                                for (f, factor) in factors.enumerated() {
                                    pack(x, fit, scaleFactor: factor, into: candidates[packs + f])
                                    considered[packs + f] = factor != 1 || weighted
                                    candidates[refits + f].copyMemory(from: candidates[packs + f], byteCount: size)
                                }
                                refit(x, importance: importance, blocks: UnsafeBufferPointer(start: candidates.baseAddress! + refits, count: factors.count),
                                      refitted: considered.baseAddress! + refits)
                            }
                            // The order the search considers them in: ggml's block, then per pass and
                            // factor the packed block and its refit. Their errors four at a time
                            // (independent chains), then the choice in that order: the first strictly
                            // better than all before it.
                            var count = 0
                            func consider(_ k: Int) {
                                if considered[k] { order[count] = k; count += 1 }
                            }
                            consider(0)
                            for pass in 0..<passes {
                                let packs = 1 + 2 * pass * factors.count
                                for f in 0..<factors.count { consider(packs + f); consider(packs + factors.count + f) }
                            }
                            for start in stride(from: 0, to: count, by: 4) {
                                measure(x, importance, blocks: min(4, count - start), candidates: { candidates[order[start + $0]] },
                                        decoded: floats.baseAddress!, errors: errors + start)
                            }
                            var best = errors[0], chosen = 0
                            for j in 1..<count where errors[j] < best {
                                best = errors[j]
                                chosen = order[j]
                            }
                            if chosen != 0 { out.copyMemory(from: candidates[chosen], byteCount: size) }
                        }
                    }
                }
            }
        }
    }
}

extension KQuantizer {
    /// The weighted squared errors of up to four candidate blocks of `x` (decoded as every reader
    /// decodes them into `decoded`, 4 × the block's values), each summed from element 0 as
    /// `QuantMath.error` sums it; the four chains run side by side.
    private func measure(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, blocks: Int,
                         candidates: (Int) -> UnsafeMutableRawPointer, decoded: UnsafeMutablePointer<Float>,
                         errors: UnsafeMutablePointer<Float>) {
        let n = type.blockElements
        for b in 0..<4 {
            // A missing fourth (or third…) repeats the first, so the loop below stays branch-free.
            type.decodeBlocks(candidates(b < blocks ? b : 0), blocks: 1, into: decoded + b * n)
        }
        var e0: Float = 0, e1: Float = 0, e2: Float = 0, e3: Float = 0
        let d0 = decoded, d1 = decoded + n, d2 = decoded + 2 * n, d3 = decoded + 3 * n
        for i in 0..<n {
            let w = QuantMath.weight(importance, i), v = x[i]
            let a = v - d0[i], b = v - d1[i], c = v - d2[i], d = v - d3[i]
            e0 += w * a * a; e1 += w * b * b; e2 += w * c * c; e3 += w * d * d
        }
        errors[0] = e0
        if blocks > 1 { errors[1] = e1 }
        if blocks > 2 { errors[2] = e2 }
        if blocks > 3 { errors[3] = e3 }
    }

    /// The search one candidate at a time, each measured as it is made: the twin
    /// `quantizeBlock` is held to.
    package func referenceQuantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
                                        into out: UnsafeMutableRawPointer) {
        let n = type.blockElements
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * n + 32) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n + type.blockBytes) { bytes in
                let decoded = floats.baseAddress!, trial = UnsafeMutableRawPointer(bytes.baseAddress! + n)
                let fit = GroupFit(scales: decoded + n, mins: decoded + n + 16, levels: bytes.baseAddress!)
                fitGroups(x, importance: nil, into: fit)
                pack(x, fit, scaleFactor: 1, into: out)
                guard method == .search else { return }
                // The reference block is the first candidate, so the search is never worse.
                func error(_ block: UnsafeRawPointer) -> Float {
                    type.decodeBlocks(block, blocks: 1, into: decoded)
                    return QuantMath.error(x, importance, n) { decoded[$0] }
                }
                var best = error(out)
                func consider() {
                    let e = error(trial)
                    if e < best {
                        best = e
                        out.copyMemory(from: trial, byteCount: type.blockBytes)
                    }
                }
                for weighted in importance == nil ? [false] : [false, true] {
                    if weighted { fitGroups(x, importance: importance, into: fit) }
                    for factor in KQuantMath.superScaleFactors {
                        pack(x, fit, scaleFactor: factor, into: trial)
                        if factor != 1 || weighted { consider() }
                        if refit(x, importance: importance, block: trial) { consider() }
                    }
                }
            }
        }
    }
}

extension KQuantMath {
    /// Multipliers of the super-block scale the search tries: below 1 the largest group's scale
    /// clips and every other group gets a finer one; above 1 the reverse.
    static let superScaleFactors: [Float] = [1, 0.96, 0.98, 1.02, 1.04]

    /// Weighted least squares for x ≈ d·a − m·b over one block (a = group scale × level,
    /// b = group minimum), solved in Double; nil when singular or d ≤ 0.
    static func fitScaleAndMin(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, _ n: Int,
                               a: (Int) -> Float, b: (Int) -> Float) -> (d: Float, m: Float)? {
        var saa = 0.0, sab = 0.0, sbb = 0.0, sxa = 0.0, sxb = 0.0
        for i in 0..<n {
            let w = Double(QuantMath.weight(importance, i)), ai = Double(a(i)), bi = Double(b(i)), xi = Double(x[i])
            saa += w * ai * ai; sab += w * ai * bi; sbb += w * bi * bi; sxa += w * xi * ai; sxb += w * xi * bi
        }
        return solveScaleAndMin(saa: saa, sab: sab, sbb: sbb, sxa: sxa, sxb: sxb)
    }

    /// `fitScaleAndMin` with uniform importance for integer a and b below 2¹¹ in magnitude (a
    /// K-quant's group scale × level, and its minimum): the same bits, at a fraction of the cost
    /// (the search refits every block five times). Σa², Σab and Σb² are integers below 2⁵³, exact
    /// in Double in any order, so they are summed as integers; each x·a is exact too (24 bits
    /// times 11), so Σx·a and Σx·b are the only rounded chains, summed in the general order.
    static func fitScaleAndMinUniform(_ x: UnsafePointer<Float>, _ n: Int, a: (Int) -> Int, b: (Int) -> Int) -> (d: Float, m: Float)? {
        var saa = 0, sab = 0, sbb = 0, sxa = 0.0, sxb = 0.0
        for i in 0..<n {
            let ai = a(i), bi = b(i), xi = Double(x[i])
            saa += ai * ai; sab += ai * bi; sbb += bi * bi
            sxa += xi * Double(ai); sxb += xi * Double(bi)
        }
        return solveScaleAndMin(saa: Double(saa), sab: Double(sab), sbb: Double(sbb), sxa: sxa, sxb: sxb)
    }

    /// The normal equations of Σw(x − d·a + m·b)²: [saa −sab; −sab sbb]·[d; m] = [sxa; −sxb].
    static func solveScaleAndMin(saa: Double, sab: Double, sbb: Double, sxa: Double, sxb: Double) -> (d: Float, m: Float)? {
        let det = saa * sbb - sab * sab
        guard det > 0 else { return nil }
        let d = (sxa * sbb - sab * sxb) / det
        let m = (sab * sxa - saa * sxb) / det
        return d > 0 && m >= 0 ? (Float(d), Float(m)) : nil
    }

    /// Weighted least squares for x ≈ d·a; nil when Σwa² is 0.
    static func fitScale(_ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, _ n: Int, a: (Int) -> Float) -> Float? {
        var saa = 0.0, sxa = 0.0
        for i in 0..<n {
            let w = Double(QuantMath.weight(importance, i)), ai = Double(a(i))
            saa += w * ai * ai; sxa += w * Double(x[i]) * ai
        }
        return saa > 0 ? Float(sxa / saa) : nil
    }

    /// `fitScale` with uniform importance for integer a below 2¹³ in magnitude (a group scale ×
    /// centred level): the same bits, Σa² summed as an integer (exact), Σx·a in the general order.
    static func fitScaleUniform(_ x: UnsafePointer<Float>, _ n: Int, a: (Int) -> Int) -> Float? {
        var saa = 0, sxa = 0.0
        for i in 0..<n {
            let ai = a(i)
            saa += ai * ai; sxa += Double(x[i]) * Double(ai)
        }
        return saa > 0 ? Float(sxa / Double(saa)) : nil
    }
}
