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
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
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

        for (index, layer) in w.layers.enumerated() {
            // Attention block.
            normalize(b.x, into: b.h, rows: t, weight: layer.attentionNorm, bias: layer.attentionNormBias, eps: eps)
            if let qkv = layer.qkv {
                matmul(qkv, b.h, batch: t, b.qkv)
                addBias(b.qkv, layer.qkvBias, rows: t, width: 3 * d)
                for row in 0..<t {
                    let fused = b.qkv + row * 3 * d
                    (b.q + row * qWidth).update(from: fused, count: d)
                    (b.k + row * kvWidth).update(from: fused + d, count: d)
                    (b.v + row * kvWidth).update(from: fused + 2 * d, count: d)
                }
            } else {
                matmul([layer.query!, layer.key!, layer.value!], b.h, batch: t, [b.q, b.k, b.v])
                addBias(b.q, layer.queryBias, rows: t, width: qWidth)
                addBias(b.k, layer.keyBias, rows: t, width: kvWidth)
                addBias(b.v, layer.valueBias, rows: t, width: kvWidth)
            }
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                let hd = c.headDim
                for head in 0..<(t * c.heads) { Ops.rmsNorm(b.q + head * hd, weight: queryNorm.values, count: hd, eps: eps, into: b.q + head * hd) }
                for head in 0..<(t * c.kvHeads) { Ops.rmsNorm(b.k + head * hd, weight: keyNorm.values, count: hd, eps: eps, into: b.k + head * hd) }
            }
            let local = c.isLocal(layer: index)
            // A sliding-window layer's ring takes at most `window` new rows before they are
            // attended to (`KVCache`): longer segments store and attend piece by piece.
            let piece = { (state: InferenceState) -> Int in
                let capacity = state.cache.capacities[index]
                return !local || capacity >= state.contextLength ? Int.max : capacity - c.slidingWindow! + 1
            }
            if segments.allSatisfy({ $0.tokens.count <= piece($0.state) }) {
                for (segment, start) in zip(segments, starts) { storeKeys(segment, start: start, rows: 0..<segment.tokens.count, layer: index) }
                attend(zip(segments, starts).map { (segment, start) in (segment.state, start, 0..<segment.tokens.count) }, layer: index)
            } else {
                for (segment, start) in zip(segments, starts) {
                    let size = min(piece(segment.state), segment.tokens.count)
                    for first in stride(from: 0, to: segment.tokens.count, by: size) {
                        let rows = first..<min(segment.tokens.count, first + size)
                        storeKeys(segment, start: start, rows: rows, layer: index)
                        attend([(segment.state, start, rows)], layer: index)
                    }
                }
            }
            matmul(layer.output, b.attention, batch: t, b.h)
            addBias(b.h, layer.outputBias, rows: t, width: d)
            if let norm = layer.postAttentionNorm { normalize(b.h, into: b.h, rows: t, weight: norm, bias: nil, eps: eps) }
            for i in 0..<(t * d) { b.x[i] += b.h[i] }

            // Feed-forward block.
            normalize(b.x, into: b.h, rows: t, weight: layer.ffnNorm, bias: layer.ffnNormBias, eps: eps)
            if let gate = layer.gate {
                matmul([layer.up, gate], b.h, batch: t, [b.up, b.gate])
            } else {
                matmul(layer.up, b.h, batch: t, b.up)
            }
            addBias(b.up, layer.upBias, rows: t, width: c.feedForward)
            if layer.gate != nil {
                if c.gateActivation == .geluTanh {
                    Ops.gelu(b.gate, count: t * c.feedForward)
                    for i in 0..<(t * c.feedForward) { b.gate[i] *= b.up[i] }
                } else {
                    Ops.swiglu(gate: b.gate, up: b.up, count: t * c.feedForward)
                }
                matmul(layer.down, b.gate, batch: t, b.h)
            } else {
                Ops.gelu(b.up, count: t * c.feedForward)
                matmul(layer.down, b.up, batch: t, b.h)
            }
            addBias(b.h, layer.downBias, rows: t, width: d)
            if let norm = layer.postFeedForwardNorm { normalize(b.h, into: b.h, rows: t, weight: norm, bias: nil, eps: eps) }
            for i in 0..<(t * d) { b.x[i] += b.h[i] }
        }
        for segment in segments { segment.state.tokens += segment.tokens }

        guard let logits else { return }
        // The rows that need logits, gathered in order so the head is one product.
        var gathered = 0
        for (segment, start) in zip(segments, starts) {
            let count = segment.logits.count(segment.tokens.count)
            let first = start + segment.tokens.count - count
            normalize(b.x + first * d, into: b.h + gathered * d, rows: count, weight: w.outputNorm, bias: w.outputNormBias, eps: eps)
            gathered += count
        }
        if gathered > 0 { matmul(w.outputHead, b.h, batch: gathered, logits) }
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in 0..<(gathered * c.vocabulary) { logits[i] = cap * tanhf(logits[i] / cap) }
        }
    }

    /// RoPE on rows `rows` of a segment's queries and keys (the layer's own angles), then their
    /// keys and values into the segment's cache.
    private func storeKeys(_ segment: ForwardSegment, start: Int, rows: Range<Int>, layer: Int) {
        let c = transformer.config, b = buffers, state = segment.state
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let angles = c.isLocal(layer: layer) ? (state.localRopeAngles ?? state.ropeAngles) : state.ropeAngles
        for offset in rows {
            let row = start + offset, position = state.position + offset
            if let angles {
                let mode: RopeMode = c.ropeStyle == .neox ? .neox : .normal
                Kernels.rope(b.q + row * qWidth, heads: c.heads, headDim: c.headDim, position: position, angles: angles, mode: mode)
                Kernels.rope(b.k + row * kvWidth, heads: c.kvHeads, headDim: c.headDim, position: position, angles: angles, mode: mode)
            }
            state.cache.store(layer: layer, position: position, keys: b.k + row * kvWidth, values: b.v + row * kvWidth)
        }
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

    /// Products of one input by several matrices, as one pool job.
    private func matmul(_ ws: [Matrix], _ x: UnsafePointer<Float>, batch: Int, _ ys: [UnsafeMutablePointer<Float>]) {
        for w in ws { observer?.observe(weight: w.name, inputs: x, rows: batch, columns: w.cols) }
        Ops.matmul(ws, x, batch: batch, ys)
    }

    private func normalize(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int,
                           weight: Vector, bias: Vector?, eps: Float) {
        let d = transformer.config.embedding
        for row in 0..<rows {
            if transformer.config.family == .gpt2 {
                Ops.layerNorm(x + row * d, weight: weight.values, bias: bias?.values, count: d, eps: eps, into: out + row * d)
            } else {
                Ops.rmsNorm(x + row * d, weight: weight.values, count: d, eps: eps, into: out + row * d)
            }
        }
    }

    private func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: Vector?, rows: Int, width: Int) {
        guard let bias else { return }
        for row in 0..<rows {
            let r = x + row * width
            for i in 0..<width { r[i] += bias.values[i] }
        }
    }
}
