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
    /// Phase two: the super-block scale is ggml's times `scaleFactor`; writes the block.
    func pack(_ x: UnsafePointer<Float>, _ fit: GroupFit, scaleFactor: Float, into out: UnsafeMutableRawPointer)
    /// Re-fits the f16 super-block scale(s) of a written block by weighted least squares over its
    /// integer group scales and levels, then re-rounds its levels; false if nothing to fit.
    func refit(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, block: UnsafeMutableRawPointer) -> Bool
}

extension KQuantizer {
    package func quantizeBlock(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, method: QuantMethod,
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
        let det = saa * sbb - sab * sab
        guard det > 0 else { return nil }
        // Normal equations of Σw(x − d·a + m·b)²: [saa −sab; −sab sbb]·[d; m] = [sxa; −sxb].
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
}
