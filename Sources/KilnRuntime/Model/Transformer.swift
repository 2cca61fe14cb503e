import Dispatch
import Foundation
import KilnCore
import KilnFormats
import KilnKernels

/// A decoder-only transformer (GPT-2 or Llama family) over weights mapped from a model file.
/// Immutable and shareable: every generation keeps its own `InferenceState`.
package final class Transformer: @unchecked Sendable {
    // Sendable: weights are read-only views; nothing mutates after init.
    package let config: ModelConfig
    let weights: ModelWeights
    /// Keeps the mapping (and any converted tensors) alive.
    let model: CanonicalModel

    /// Bytes of row-major matrices copied into interleaved layouts at load (0 when the file
    /// already holds them, or with `repack: false`). Their pages in the file's mapping are given
    /// back, so resident memory stays about the file's size.
    package let repackedBytes: Int

    /// `repack`: copy row-major blocks that have an interleaved layout (a GGUF's q4_0, q8_0,
    /// q4_1, q5_0, q5_1) into it, as `kiln convert` would, so they run on the fastest kernels;
    /// products are bit-identical either way. False runs them in place from the mapping.
    package init(model: CanonicalModel, repack: Bool = true) throws {
        guard let config = model.config else {
            throw KilnError(.unsupported, "the model's architecture is not one Kiln runs (GPT-2 or Llama family)",
                            file: model.reader.paths.first)
        }
        self.model = model
        self.config = config
        let loader = WeightLoader(model: model, repack: repack)
        weights = try ModelWeights(loader: loader, config: config)
        loader.releaseRepackedSources()
        repackedBytes = loader.repackedBytes
    }
}

/// One sequence being generated or scored: the KV cache and scratch memory, reused across
/// calls so that decoding allocates nothing.
///
/// Sendable so it can move between tasks; its lock keeps concurrent calls memory-safe, but one
/// sequence is one conversation: use a state from one generation at a time.
public final class InferenceState: @unchecked Sendable {
    private let lock = NSLock()
    package let transformer: Transformer
    /// Positions the cache holds: prompt and generated tokens together.
    public let contextLength: Int
    /// Prompt tokens are processed in chunks of at most this many (matrix × matrix).
    package let maxBatch: Int
    /// The tokens whose keys and values are in the cache, in order.
    public private(set) var tokens: [Int] = []
    /// Number of positions already in the cache.
    public var position: Int { tokens.count }
    let cache: KVCache
    private let buffers: Buffers
    private let attention = CachedAttention()
    /// RoPE's cosines and sines per position, computed once for all layers (nil without RoPE).
    private let ropeAngles: RopeAngles?
    /// Sees the input of every matrix product (for calibration statistics).
    package var observer: ActivationObserver?

    /// `halfPrecisionCache` stores keys and values as f16: half the memory, for long contexts.
    /// Throws a usage error when `contextLength` is outside 1 ... the model's context or needs
    /// more memory than the machine has (`ContextLimits`), before allocating anything.
    package init(transformer: Transformer, contextLength: Int, maxBatch: Int = 256, halfPrecisionCache: Bool = false) throws {
        let c = transformer.config
        do {
            try ContextLimits.check(c, positions: contextLength, halfPrecision: halfPrecisionCache)
            cache = try KVCache(layers: c.layers, capacity: contextLength, kvHeads: c.kvHeads, headDim: c.headDim,
                                precision: halfPrecisionCache ? .f16 : .f32)
        } catch let error as KilnError {
            throw transformer.model.reader.paths.first.map { error.inFile($0) } ?? error
        }
        self.transformer = transformer
        self.contextLength = contextLength
        self.maxBatch = maxBatch
        buffers = Buffers(config: c, batch: maxBatch)
        ropeAngles = c.ropeDimensions > 0
            ? RopeAngles(rotaryDims: c.ropeDimensions, base: Float(c.ropeBase), freqScale: Float(1 / c.ropeScale), capacity: contextLength)
            : nil
    }

    /// Memory held by the KV cache, in bytes.
    public var kvCacheBytes: Int { cache.bytes }

    /// Forgets the sequence so the state can start another.
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        tokens.removeAll(keepingCapacity: true)
    }

    /// Rewinds to `position` tokens (for re-using a shared prompt prefix).
    public func truncate(to newPosition: Int) {
        lock.lock(); defer { lock.unlock() }
        tokens.removeLast(tokens.count - min(tokens.count, max(0, newPosition)))
    }

    /// Runs `tokens` through the model at the next positions. Returns the logits of the last
    /// token, or of every token (`[tokens.count × vocabulary]`) when `allLogits`.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.usage`) if a token id is outside the vocabulary or the tokens
    ///   do not fit in the remaining context.
    public func forward(_ tokens: [Int], allLogits: Bool = false) throws -> [Float] {
        lock.lock(); defer { lock.unlock() }
        let vocabulary = transformer.config.vocabulary
        guard !tokens.isEmpty else { return [] }
        guard position + tokens.count <= contextLength else {
            throw KilnError(.usage, "context is full: \(position) + \(tokens.count) tokens exceed \(contextLength); use a larger --ctx")
        }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw KilnError(.usage, "token id \(bad) is outside the vocabulary of \(vocabulary)")
        }
        var logits = [Float](repeating: 0, count: allLogits ? tokens.count * vocabulary : vocabulary)
        var start = 0
        while start < tokens.count {
            let chunk = Array(tokens[start..<min(tokens.count, start + maxBatch)])
            let isLast = start + chunk.count == tokens.count
            try logits.withUnsafeMutableBufferPointer { out in
                try run(chunk, logits: allLogits ? out.baseAddress! + start * vocabulary : (isLast ? out.baseAddress! : nil),
                        allRows: allLogits)
            }
            start += chunk.count
        }
        return logits
    }

    // MARK: The forward pass

    private func run(_ tokens: [Int], logits: UnsafeMutablePointer<Float>?, allRows: Bool) throws {
        let c = transformer.config, w = transformer.weights, b = buffers
        let t = tokens.count, d = c.embedding
        let eps = Float(c.normEpsilon)
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim

        for (row, token) in tokens.enumerated() {
            Self.embed(w.tokenEmbedding, row: token, into: b.x + row * d)
            if let positions = w.positionEmbedding {
                guard position + row < positions.rows else {
                    throw KilnError(.usage, "position \(position + row) is beyond the model's \(positions.rows) learned positions")
                }
                Self.embed(positions, row: position + row, into: b.h + row * d)
                for i in 0..<d { b.x[row * d + i] += b.h[row * d + i] }
            }
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
            for row in 0..<t {
                let pos = position + row
                if let angles = ropeAngles {
                    let mode: RopeMode = c.ropeStyle == .neox ? .neox : .normal
                    Kernels.rope(b.q + row * qWidth, heads: c.heads, headDim: c.headDim, position: pos, angles: angles, mode: mode)
                    Kernels.rope(b.k + row * kvWidth, heads: c.kvHeads, headDim: c.headDim, position: pos, angles: angles, mode: mode)
                }
                cache.store(layer: index, position: pos, keys: b.k + row * kvWidth, values: b.v + row * kvWidth)
            }
            attend(layer: index, rows: t)
            matmul(layer.output, b.attention, batch: t, b.h)
            addBias(b.h, layer.outputBias, rows: t, width: d)
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
                Ops.swiglu(gate: b.gate, up: b.up, count: t * c.feedForward)
                matmul(layer.down, b.gate, batch: t, b.h)
            } else {
                Ops.gelu(b.up, count: t * c.feedForward)
                matmul(layer.down, b.up, batch: t, b.h)
            }
            addBias(b.h, layer.downBias, rows: t, width: d)
            for i in 0..<(t * d) { b.x[i] += b.h[i] }
        }
        self.tokens += tokens

        guard let logits else { return }
        let first = allRows ? 0 : t - 1
        let rows = t - first
        normalize(b.x + first * d, into: b.h, rows: rows, weight: w.outputNorm, bias: w.outputNormBias, eps: eps)
        matmul(w.outputHead, b.h, batch: rows, logits)
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

    /// Causal attention of the chunk's rows over the cache (every query head reading the
    /// key/value head of its group: grouped-query attention).
    private func attend(layer: Int, rows: Int) {
        attention.run(cache: cache, layer: layer, config: transformer.config, queries: buffers.q, rows: rows, base: position,
                      into: buffers.attention)
    }

    /// Decodes one embedding row (any element type) to f32.
    private static func embed(_ table: Matrix, row: Int, into out: UnsafeMutablePointer<Float>) {
        table.decodeRow(row, into: out)
    }
}

/// Receives the activations entering each weight matrix: `rows` vectors of `columns` floats.
package protocol ActivationObserver: AnyObject {
    func observe(weight: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int)
}

/// Scratch memory for one chunk of up to `batch` tokens.
final class Buffers {
    let x, h, q, k, v, qkv, attention, up, gate: UnsafeMutablePointer<Float>
    private var all: [UnsafeMutablePointer<Float>] = []

    init(config c: ModelConfig, batch: Int) {
        func make(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        x = make(batch * c.embedding)
        h = make(batch * max(c.embedding, c.heads * c.headDim))
        q = make(batch * c.heads * c.headDim)
        k = make(batch * c.kvHeads * c.headDim)
        v = make(batch * c.kvHeads * c.headDim)
        qkv = make(c.family == .gpt2 ? batch * 3 * c.embedding : 1)
        attention = make(batch * c.heads * c.headDim)
        up = make(batch * c.feedForward)
        gate = make(batch * c.feedForward)
        all = [x, h, q, k, v, qkv, attention, up, gate]
    }

    deinit { for p in all { p.deallocate() } }
}
