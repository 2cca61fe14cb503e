import CKilnKernels
import Dispatch
import KilnCore

/// Every kernel of one tier. `Kernels` holds the table chosen at start-up; tests and the
/// benchmark make one per supported tier and hold each to the reference.
package struct KernelTable: @unchecked Sendable {
    // Sendable: `ops` points at a constant table inside the C library.
    package let tier: KernelTier
    /// The C tier's table; nil for the Swift reference.
    let ops: OpaquePointer?

    /// The table for `tier`, or nil when this machine cannot run it.
    package init?(tier: KernelTier) {
        self.tier = tier
        if let cTier = tier.cTier {
            guard let ops = kiln_ops_for_tier(cTier) else { return nil }
            self.ops = ops
        } else {
            ops = nil
        }
    }

    // MARK: matrix products

    /// y[rows] = W · x[cols].
    package func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        matmul(w, x, batch: 1, y)
    }

    /// Y[batch, rows] = X[batch, cols] · Wᵀ, all row-major: one product per activation row.
    package func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        precondition(batch >= 0, "negative batch")
        guard w.rows > 0, batch > 0 else { return }
        if w.rowStride != w.cols, ops == nil || w.kernelCode.map({ kiln_has_kernel(ops, $0) == 0 }) ?? true {
            return w.withContiguousRows { matmul($0, x, batch: batch, y) }
        }
        guard let ops else { return Reference.matmul(w, x, batch: batch, y) }
        if let code = w.kernelCode, kiln_has_kernel(ops, code) != 0 {
            kiln_matmul_strided(ops, code, w.data, Int64(w.rows), Int64(w.cols), Int64(w.rowStride), x, Int64(batch), y)
        } else {
            DequantizingMatmul.run(w, x, batch: batch, y, ops: ops)
        }
    }

    /// Several products of the same activations `x` (`[batch, cols]`; every matrix has `cols`
    /// columns): `outputs[i] = X · ws[i]ᵀ`. Where every matrix has a kernel on this tier, the
    /// activations are prepared once and all the rows are shared out in one pool job (a layer's
    /// q/k/v, or gate/up); otherwise one product after another. Results are the same bits.
    ///
    /// `before(b0, b1)`, when given, first writes rows `b0 ..< b1` of X (each row once, rows on
    /// several threads at once): with several rows it runs inside the products' own pool job,
    /// each row quantised right after it is written, so a batch's row-wise step and its products
    /// share one synchronisation. One row, or products without a kernel: it runs first, on its own.
    package func matmul(_ ws: [WeightMatrix], _ x: UnsafePointer<Float>, batch: Int, _ outputs: [UnsafeMutablePointer<Float>],
                        before: ((Int, Int) -> Void)? = nil) {
        precondition(ws.count == outputs.count && batch >= 0, "one output per matrix")
        if let before, batch == 1 {
            before(0, 1)
            return matmul(ws, x, batch: 1, outputs)
        }
        guard let ops, let cols = ws.first?.cols, batch > 0,
              ws.allSatisfy({ $0.cols == cols && $0.rowStride == $0.cols && $0.rows > 0 && $0.kernelCode.map { kiln_has_kernel(ops, $0) != 0 } ?? false })
        else {
            if let before, batch > 0 { Kernels.eachRowShare(batch, before) }
            for (w, y) in zip(ws, outputs) { matmul(w, x, batch: batch, y) }
            return
        }
        // On the stack: decode calls this twice per layer.
        withUnsafeTemporaryAllocation(of: kiln_matmul_part.self, capacity: ws.count) { parts in
            for (i, (w, y)) in zip(ws, outputs).enumerated() {
                parts.initializeElement(at: i, to: kiln_matmul_part(type: w.kernelCode!, w: w.data, rows: Int64(w.rows), y: y))
            }
            guard let before else {
                return kiln_matmul_parts(ops, Int32(ws.count), parts.baseAddress, Int64(cols), x, Int64(batch))
            }
            withoutActuallyEscaping(before) { before in
                var closure = before
                withUnsafeMutablePointer(to: &closure) { context in
                    kiln_matmul_parts_after(ops, Int32(ws.count), parts.baseAddress, Int64(cols), x, Int64(batch), { context, b0, b1 in
                        context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(b0), Int(b1))
                    }, context)
                }
            }
        }
    }

    /// The activation quantisation the quantised products start with (identical bits on every
    /// tier): per block of 32 values, int8 codes `q`, scale `d` and code sum `sum`.
    package func quantizeActivations(
        _ x: UnsafePointer<Float>, cols: Int, q: UnsafeMutablePointer<Int8>, d: UnsafeMutablePointer<Float>,
        sum: UnsafeMutablePointer<Int32>
    ) {
        precondition(cols % 32 == 0, "activations are quantised in blocks of 32; cols is \(cols)")
        guard let ops else { return Reference.quantize(x, cols: cols, q: q, d: d, sum: sum) }
        kiln_quantize_activations(ops, x, Int64(cols), q, d, sum)
    }

    // MARK: normalisation and activations

    package func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        guard let ops else { return Reference.rmsNorm(x, weight: weight, count: count, eps: eps, into: out) }
        kiln_rms_norm(ops, x, weight, Int64(count), eps, out)
    }

    package func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, count: Int, eps: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        guard count > 0 else { return }
        guard let ops else { return Reference.layerNorm(x, weight: weight, bias: bias, count: count, eps: eps, into: out) }
        kiln_layer_norm(ops, x, weight, bias, Int64(count), eps, out)
    }

    package func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard let ops else { return Reference.softmax(x, count: count) }
        kiln_softmax(ops, x, Int64(count))
    }

    /// Rotates the first `rotaryDims` elements of each head of `x` ([heads, headDim]) in place by
    /// the angles position · freqScale · base^(−2i/rotaryDims), pairs chosen by `mode`.
    package func rope(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotaryDims: Int, position: Int, base: Float, freqScale: Float,
        mode: RopeMode
    ) {
        precondition(rotaryDims <= headDim && rotaryDims % 2 == 0, "rotaryDims \(rotaryDims) must be even and ≤ headDim \(headDim)")
        guard let ops else {
            return Reference.rope(x, heads: heads, headDim: headDim, rotaryDims: rotaryDims, position: position, base: base,
                                  freqScale: freqScale, mode: mode)
        }
        kiln_rope(ops, x, Int64(heads), Int64(headDim), Int64(rotaryDims), Int64(position), base, freqScale,
                  mode == .neox ? Int32(KILN_ROPE_NEOX) : Int32(KILN_ROPE_NORMAL))
    }

    /// `rope` with the angles taken from `angles` (computed once per position).
    package func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int, angles: RopeAngles, mode: RopeMode) {
        precondition(angles.rotaryDims <= headDim, "rotaryDims \(angles.rotaryDims) must be ≤ headDim \(headDim)")
        guard let ops else {
            guard angles.frequencies == nil else {
                return Reference.rope(x, heads: heads, headDim: headDim, rotaryDims: angles.rotaryDims, table: angles.angles(position), mode: mode)
            }
            return Reference.rope(x, heads: heads, headDim: headDim, rotaryDims: angles.rotaryDims, position: position,
                                  base: angles.base, freqScale: angles.freqScale, mode: mode)
        }
        kiln_rope_table(ops, x, Int64(heads), Int64(headDim), Int64(angles.rotaryDims), angles.angles(position),
                        mode == .neox ? Int32(KILN_ROPE_NEOX) : Int32(KILN_ROPE_NORMAL))
    }

    package func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard let ops else { return Reference.gelu(x, count: count) }
        kiln_gelu(ops, x, Int64(count))
    }

    package func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard let ops else { return Reference.silu(x, count: count) }
        kiln_silu(ops, x, Int64(count))
    }

    /// gate = silu(gate) · up.
    package func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        guard let ops else { return Reference.swiglu(gate: gate, up: up, count: count) }
        kiln_swiglu(ops, gate, up, Int64(count))
    }

    // MARK: conversion

    /// f16 or bf16 bit patterns → f32 (exact).
    package func convert(_ source: UnsafePointer<UInt16>, from format: HalfFormat, into destination: UnsafeMutablePointer<Float>, count: Int) {
        guard let ops else { return Reference.convert(source, from: format, into: destination, count: count) }
        switch format {
        case .f16: kiln_f16_to_f32(ops, source, destination, Int64(count))
        case .bf16: kiln_bf16_to_f32(ops, source, destination, Int64(count))
        }
    }

    /// f32 → f16 or bf16 bit patterns, rounding to nearest even (as `HalfPrecision`). The f16 → f32
    /// direction is exact too, except that the SIMD tiers return a signalling NaN quieted.
    package func convert(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, as format: HalfFormat, count: Int) {
        guard let ops else { return Reference.convert(source, into: destination, as: format, count: count) }
        switch format {
        case .f16: kiln_f32_to_f16(ops, source, destination, Int64(count))
        case .bf16: kiln_f32_to_bf16(ops, source, destination, Int64(count))
        }
    }

    // MARK: bandwidth probe

    /// Sums `bytes` of floats (a multiple of 128; `data` 64-byte aligned), split over the pool:
    /// the streaming-read bandwidth the benchmark compares the products with.
    package func streamRead(_ data: UnsafePointer<Float>, bytes: Int) -> Float {
        precondition(bytes % 128 == 0 && Int(bitPattern: data) % 64 == 0, "the probe reads aligned 128-byte units")
        guard let ops else { return (0..<(bytes / 4)).reduce(0) { $0 + data[$1] } }
        return kiln_stream_read(ops, data, Int64(bytes))
    }

    /// What the compute ceiling is measured in: f32 multiply-adds (the float products) or int8
    /// dot products (the quantised ones); a multiply-add counts as 2 operations.
    /// `int8DotWithF32Steps(k)` is the dots' rate with k f32 steps (3 … 7) per 8 of them, the
    /// scale work a quantised type's block adds (AVX-512 only): the bound of such a type.
    package enum ComputeKind: Sendable { case f32FMA, int8Dot, int8DotWithF32Steps(Int) }

    /// The f32 steps per 8 int8 dots that `type`'s prompt tiles take on this tier (so
    /// `computePeak(.int8DotWithF32Steps(k))` is the type's bound), or nil where not counted.
    package func promptF32Steps(_ type: ElementType) -> Int? {
        guard let ops, let code = WeightMatrix.kernelCode(type) else { return nil }
        let steps = Int(kiln_prompt_f32_steps(ops, code))
        return steps > 0 ? steps : nil
    }

    /// This tier's peak rate of `kind` on one core, in operations per second (the best of 5
    /// samples of ≥ 20 ms of independent chains of its widest instruction), or nil when the tier
    /// has no probe (the reference, portable and NEON tiers).
    package func computePeak(_ kind: ComputeKind) -> Double? {
        guard let ops else { return nil }
        let code: Int32
        switch kind {
        case .f32FMA: code = Int32(KILN_PEAK_F32_FMA)
        case .int8Dot: code = Int32(KILN_PEAK_INT8_DOT)
        case .int8DotWithF32Steps(let steps): code = Int32(KILN_PEAK_INT8_DOT_F32_STEPS) + Int32(steps)
        }
        var iterations: Int64 = 1 << 16
        var best = 0.0
        var samples = 0
        while samples < 5 {
            let start = DispatchTime.now().uptimeNanoseconds
            let work = kiln_peak_work(ops, code, iterations)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard work > 0 else { return nil }
            if seconds < 0.02 { iterations *= 2; continue }
            best = max(best, Double(work) / seconds)
            samples += 1
        }
        return best
    }
}
