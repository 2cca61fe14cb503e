import Foundation
import KilnCore
import KilnKernels

/// Rows of one sequence in a forward pass: its next tokens, at the positions after those its
/// cache holds.
struct ForwardSegment {
    let state: InferenceState
    let tokens: [Int]
    let logits: LogitRows
}

/// Which of a segment's rows leave the pass with logits.
enum LogitRows {
    case none, last, all
    /// The segment's last n rows (perplexity scores only a window's second half).
    case tail(Int)

    func count(_ rows: Int) -> Int {
        switch self {
        case .none: 0
        case .last: 1
        case .all: rows
        case .tail(let n): max(0, min(n, rows))
        }
    }
}

/// The transformer over the rows of one or more sequences at once. Every matrix product runs
/// on all rows together, so the weights are read once per step however many sequences share it
/// (on a CPU a decode step costs about one pass over the weights, one row or eight); positions,
/// RoPE, the KV cache writes and attention stay per sequence. One segment is the single-sequence
/// path (`InferenceState.forward`); several are a continuous-batching step (`SequenceBatch`).
/// The caller has checked sizes and token ids and holds every segment's state.
struct ForwardPass {
    let transformer: Transformer
    let buffers: Buffers
    let observer: ActivationObserver?

    /// `logits` receives the requested rows' logits, segment after segment:
    /// `[Σ logitRows × vocabulary]`.
    func run(_ segments: [ForwardSegment], logits: UnsafeMutablePointer<Float>?) throws {
        let c = transformer.config, w = transformer.weights, b = buffers
        let d = c.embedding
        let eps = Float(c.normEpsilon)
        var starts: [Int] = []
        var t = 0
        for segment in segments { starts.append(t); t += segment.tokens.count }
        guard t > 0 else { return }

        for (segment, start) in zip(segments, starts) {
            for (offset, token) in segment.tokens.enumerated() {
                let row = start + offset, position = segment.state.position + offset
                w.tokenEmbedding.decodeRow(token, into: b.x + row * d)
                if let positions = w.positionEmbedding {
                    guard position < positions.rows else {
                        throw KilnError(.usage, "position \(position) is beyond the model's \(positions.rows) learned positions")
                    }
                    positions.decodeRow(position, into: b.h + row * d)
                    for i in 0..<d { b.x[row * d + i] += b.h[row * d + i] }
                }
            }
        }
        if c.embeddingScale != 1 {
            let scale = Float(c.embeddingScale)
            for i in 0..<(t * d) { b.x[i] *= scale }
        }

        // Every row-wise step between two products (norms, biases, RoPE and the cache stores, the
        // activation, residual adds) runs as one pool job over the rows, the steps between the same
        // two products fused into it: with eight sequences in a decode step these were a seventh of
        // the step on the calling thread while the other core waited. Each row is computed by the
        // same calls in the same order as on its own, so the results do not depend on the batch.
        var rowSegment: [Int] = []
        rowSegment.reserveCapacity(t)
        for (index, segment) in segments.enumerated() { rowSegment += repeatElement(index, count: segment.tokens.count) }
        // The block output in b.h that is still to be added to b.x (with its bias and norm).
        var pending: BlockOutput?

        for (index, layer) in w.layers.enumerated() {
            // Attention block.
            let finishing = pending
            let attentionNorm = { (row: Int) in
                if let finishing { finish(finishing, row: row) }
                normalize(b.x + row * d, into: b.h + row * d, weight: layer.attentionNorm, bias: layer.attentionNormBias, eps: eps)
            }
            if let qkv = layer.qkv {
                matmul([qkv], b.h, batch: t, [b.qkv], after: attentionNorm)
            } else {
                matmul([layer.query!, layer.key!, layer.value!], b.h, batch: t, [b.q, b.k, b.v], after: attentionNorm)
            }
            let local = c.isLocal(layer: index)
            // A sliding-window layer's ring takes at most `window` new rows before they are
            // attended to (`KVCache`): longer segments store and attend piece by piece.
            let piece = { (state: InferenceState) -> Int in
                let capacity = state.cache.capacities[index]
                return !local || capacity >= state.contextLength ? Int.max : capacity - c.slidingWindow! + 1
            }
            if segments.allSatisfy({ $0.tokens.count <= piece($0.state) }) {
                eachRow(t) { row in
                    prepareQueriesAndKeys(row: row, layer: layer)
                    let segment = segments[rowSegment[row]], start = starts[rowSegment[row]]
                    storeKeys(segment, row: row, offset: row - start, layer: index)
                }
                attend(zip(segments, starts).map { (segment, start) in (segment.state, start, 0..<segment.tokens.count) }, layer: index)
            } else {
                eachRow(t) { row in prepareQueriesAndKeys(row: row, layer: layer) }
                for (segment, start) in zip(segments, starts) {
                    let size = min(piece(segment.state), segment.tokens.count)
                    for first in stride(from: 0, to: segment.tokens.count, by: size) {
                        let rows = first..<min(segment.tokens.count, first + size)
                        eachRow(rows.count) { i in storeKeys(segment, row: start + first + i, offset: first + i, layer: index) }
                        attend([(segment.state, start, rows)], layer: index)
                    }
                }
            }
            matmul(layer.output, b.attention, batch: t, b.h)

            // Feed-forward block.
            let attentionOutput = BlockOutput(bias: layer.outputBias, norm: layer.postAttentionNorm)
            let ffnNorm = { (row: Int) in
                finish(attentionOutput, row: row)
                normalize(b.x + row * d, into: b.h + row * d, weight: layer.ffnNorm, bias: layer.ffnNormBias, eps: eps)
            }
            if let gate = layer.gate {
                matmul([layer.up, gate], b.h, batch: t, [b.up, b.gate], after: ffnNorm)
            } else {
                matmul([layer.up], b.h, batch: t, [b.up], after: ffnNorm)
            }
            let ff = c.feedForward
            let activation = { (row: Int) in
                let up = b.up + row * ff, gate = b.gate + row * ff
                if let bias = layer.upBias { for i in 0..<ff { up[i] += bias.values[i] } }
                if layer.gate == nil {
                    Ops.gelu(up, count: ff)
                } else if c.gateActivation == .geluTanh {
                    Ops.gelu(gate, count: ff)
                    for i in 0..<ff { gate[i] *= up[i] }
                } else {
                    Ops.swiglu(gate: gate, up: up, count: ff)
                }
            }
            matmul([layer.down], layer.gate != nil ? b.gate : b.up, batch: t, [b.h], after: activation)
            pending = BlockOutput(bias: layer.downBias, norm: layer.postFeedForwardNorm)
        }
        for segment in segments { segment.state.tokens += segment.tokens }

        guard let logits else { return }
        // The rows that need logits, gathered in order so the head is one product.
        var logitRows: [Int] = []
        for (segment, start) in zip(segments, starts) {
            let count = segment.logits.count(segment.tokens.count)
            logitRows += (start + segment.tokens.count - count)..<(start + segment.tokens.count)
        }
        let gathered = logitRows.count, finishing = pending
        // Two jobs: a gathered row's normalised output may land on a row another task still reads.
        if let finishing { eachRow(gathered) { g in finish(finishing, row: logitRows[g]) } }
        eachRow(gathered) { g in
            normalize(b.x + logitRows[g] * d, into: b.h + g * d, weight: w.outputNorm, bias: w.outputNormBias, eps: eps)
        }
        if gathered > 0 { matmul(w.outputHead, b.h, batch: gathered, logits) }
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in 0..<(gathered * c.vocabulary) { logits[i] = cap * tanhf(logits[i] / cap) }
        }
    }

    /// A block's output in `b.h` before it joins the residual stream: its bias, then (Gemma) its
    /// own norm.
    private struct BlockOutput {
        let bias: Vector?
        let norm: Vector?
    }

    /// Row `row` of a block's output (in `b.h`) added to the residual stream `b.x`.
    private func finish(_ output: BlockOutput, row: Int) {
        let d = transformer.config.embedding, h = buffers.h + row * d, x = buffers.x + row * d
        if let bias = output.bias { for i in 0..<d { h[i] += bias.values[i] } }
        if let norm = output.norm { normalize(h, into: h, weight: norm, bias: nil, eps: Float(transformer.config.normEpsilon)) }
        for i in 0..<d { x[i] += h[i] }
    }

    /// Row `row`'s queries, keys and values from the attention product: biases added, GPT-2's
    /// fused product split, per-head norms (Qwen 3, Gemma 3) applied.
    private func prepareQueriesAndKeys(row: Int, layer: LayerWeights) {
        let c = transformer.config, b = buffers, d = c.embedding
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let q = b.q + row * qWidth, k = b.k + row * kvWidth, v = b.v + row * kvWidth
        if layer.qkv != nil {
            let fused = b.qkv + row * 3 * d
            if let bias = layer.qkvBias { for i in 0..<(3 * d) { fused[i] += bias.values[i] } }
            q.update(from: fused, count: d)
            k.update(from: fused + d, count: d)
            v.update(from: fused + 2 * d, count: d)
        } else {
            if let bias = layer.queryBias { for i in 0..<qWidth { q[i] += bias.values[i] } }
            if let bias = layer.keyBias { for i in 0..<kvWidth { k[i] += bias.values[i] } }
            if let bias = layer.valueBias { for i in 0..<kvWidth { v[i] += bias.values[i] } }
        }
        if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
            let hd = c.headDim, eps = Float(c.normEpsilon)
            for head in 0..<c.heads { Ops.rmsNorm(q + head * hd, weight: queryNorm.values, count: hd, eps: eps, into: q + head * hd) }
            for head in 0..<c.kvHeads { Ops.rmsNorm(k + head * hd, weight: keyNorm.values, count: hd, eps: eps, into: k + head * hd) }
        }
    }

    /// Runs `body(row)` for rows `0 ..< rows`: over the pool in a contiguous share per thread
    /// when there are several (each row touches only its own slices of the buffers), on the
    /// calling thread for one.
    private func eachRow(_ rows: Int, _ body: (Int) -> Void) {
        Kernels.eachRowShare(rows) { b0, b1 in for row in b0..<b1 { body(row) } }
    }

    /// RoPE on buffer row `row` (the segment's row `offset`) of the queries and keys (the
    /// layer's own angles), then its keys and values into the segment's cache. Rows of one
    /// segment may be stored at once from several threads: each writes its own slot.
    private func storeKeys(_ segment: ForwardSegment, row: Int, offset: Int, layer: Int) {
        let c = transformer.config, b = buffers, state = segment.state
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let angles = c.isLocal(layer: layer) ? (state.localRopeAngles ?? state.ropeAngles) : state.ropeAngles
        let position = state.position + offset
        if let angles {
            let mode: RopeMode = c.ropeStyle == .neox ? .neox : .normal
            Kernels.rope(b.q + row * qWidth, heads: c.heads, headDim: c.headDim, position: position, angles: angles, mode: mode)
            Kernels.rope(b.k + row * kvWidth, heads: c.kvHeads, headDim: c.headDim, position: position, angles: angles, mode: mode)
        }
        state.cache.store(layer: layer, position: position, keys: b.k + row * kvWidth, values: b.v + row * kvWidth)
    }

    /// Causal attention of rows `rows` of each segment (starting at buffer row `start`) over its
    /// own cache, every query head reading the key/value head of its group (grouped-query
    /// attention). One kernel call for all the segments: a prompt chunk's query tiles and a
    /// batch's decode rows (every sequence × KV head) are shared out over the pool together, and
    /// the kernel's memory is a few tiles however long the context (no rows × positions scores).
    private func attend(_ parts: [(state: InferenceState, start: Int, rows: Range<Int>)], layer: Int) {
        let c = transformer.config, b = buffers, qWidth = c.heads * c.headDim
        let window = c.isLocal(layer: layer) ? c.slidingWindow : nil
        let jobs = parts.map { part in
            let row = part.start + part.rows.lowerBound
            return part.state.cache.attentionJob(
                layer: layer, queries: b.q + row * qWidth, out: b.attention + row * qWidth, queryStride: qWidth,
                rows: part.rows.count, base: part.state.position + part.rows.lowerBound, window: window)
        }
        let scale = c.attentionScale.map(Float.init) ?? 1 / Float(c.headDim).squareRoot()
        let precision = parts.first?.state.cache.precision ?? .f32
        if parts.allSatisfy({ $0.state.cache.precision == precision }) {
            Kernels.attention(jobs, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, precision: precision, scale: scale)
        } else {
            // A batch mixing f16 and f32 caches: one call per precision.
            for (job, part) in zip(jobs, parts) {
                Kernels.attention([job], heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, precision: part.state.cache.precision, scale: scale)
            }
        }
    }

    private func matmul(_ w: Matrix, _ x: UnsafePointer<Float>, batch: Int, _ y: UnsafeMutablePointer<Float>) {
        observer?.observe(weight: w.name, inputs: x, rows: batch, columns: w.cols)
        Ops.matmul(w, x, batch: batch, y)
    }

    /// Products of one input by several matrices, as one pool job, after the row-wise step
    /// `rowStep` has written each row of the input. With several rows and no observer (which
    /// reads the whole input first) the step runs inside the products' job, each row quantised
    /// right after it is written: a batch-8 step had ~90 of these row-wise pool jobs, each a
    /// barrier with its own wake-up and wait. One row takes the single-sequence path unchanged.
    private func matmul(_ ws: [Matrix], _ x: UnsafePointer<Float>, batch: Int, _ ys: [UnsafeMutablePointer<Float>],
                        after rowStep: (Int) -> Void) {
        if batch > 1 && observer == nil {
            return withoutActuallyEscaping(rowStep) { rowStep in
                Ops.matmul(ws, x, batch: batch, ys) { b0, b1 in for row in b0..<b1 { rowStep(row) } }
            }
        }
        eachRow(batch, rowStep)
        if ws.count == 1 { return matmul(ws[0], x, batch: batch, ys[0]) }
        for w in ws { observer?.observe(weight: w.name, inputs: x, rows: batch, columns: w.cols) }
        Ops.matmul(ws, x, batch: batch, ys)
    }

    /// One row's norm: GPT-2's layer norm, the others' RMS norm.
    private func normalize(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, weight: Vector, bias: Vector?, eps: Float) {
        let d = transformer.config.embedding
        if transformer.config.family == .gpt2 {
            Ops.layerNorm(x, weight: weight.values, bias: bias?.values, count: d, eps: eps, into: out)
        } else {
            Ops.rmsNorm(x, weight: weight.values, count: d, eps: eps, into: out)
        }
    }
}
