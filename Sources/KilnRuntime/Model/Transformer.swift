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
            let named = (model.extraMetadata["source.metadata"]?.mapValue?["general.architecture"]?.stringValue).map { " ('\($0)')" } ?? ""
            throw KilnError(.unsupported, "the model's architecture\(named) is not one Kiln runs (it runs \(ArchitectureDescriptor.runnableNames.joined(separator: ", ")))",
                            file: model.reader.paths.first)
        }
        do {
            try ArchitectureDescriptor.checkRunnable(config.architecture, config.features)
        } catch let error as KilnError {
            throw model.reader.paths.first.map { error.inFile($0) } ?? error
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
    /// Held by every call that runs the sequence (`forward`, `SequenceBatch.step`).
    let lock = NSLock()
    package let transformer: Transformer
    /// Positions the cache holds: prompt and generated tokens together.
    public let contextLength: Int
    /// Prompt tokens are processed in chunks of at most this many (matrix × matrix).
    package let maxBatch: Int
    /// The tokens whose keys and values are in the cache, in order.
    public internal(set) var tokens: [Int] = []
    /// Number of positions already in the cache.
    public var position: Int { tokens.count }
    let cache: KVCache
    private let buffers: Buffers
    /// RoPE's cosines and sines per position, computed once for all layers (nil without RoPE).
    let ropeAngles: RopeAngles?
    /// Those of local (sliding-window) layers when they have a RoPE base of their own (Gemma 3).
    let localRopeAngles: RopeAngles?
    /// Sees the input of every matrix product (for calibration statistics).
    package var observer: ActivationObserver?

    /// `halfPrecisionCache` stores keys and values as f16: half the memory, for long contexts.
    /// Throws a usage error when `contextLength` is outside 1 ... the model's context or needs
    /// more memory than the machine has (`ContextLimits`), before allocating anything.
    package init(transformer: Transformer, contextLength: Int, maxBatch: Int = 256, halfPrecisionCache: Bool = false) throws {
        let c = transformer.config
        do {
            try ContextLimits.check(c, positions: contextLength, halfPrecision: halfPrecisionCache)
            cache = try KVCache(capacities: KVCache.capacities(c, positions: contextLength), kvHeads: c.kvHeads, headDim: c.headDim,
                                precision: halfPrecisionCache ? .f16 : .f32)
        } catch let error as KilnError {
            throw transformer.model.reader.paths.first.map { error.inFile($0) } ?? error
        }
        self.transformer = transformer
        self.contextLength = contextLength
        self.maxBatch = maxBatch
        buffers = Buffers(config: c, batch: maxBatch)
        ropeAngles = Self.angles(c, local: false, capacity: contextLength)
        localRopeAngles = c.localRopeBase == nil ? nil : Self.angles(c, local: true, capacity: contextLength)
    }

    /// RoPE's table for global or local layers: the plain formula (base, linear scale) unless
    /// the config scales frequencies one by one.
    private static func angles(_ c: ModelConfig, local: Bool, capacity: Int) -> RopeAngles? {
        guard c.ropeDimensions > 0 else { return nil }
        if local, let base = c.localRopeBase {
            return RopeAngles(rotaryDims: c.ropeDimensions, base: Float(base), freqScale: 1, capacity: capacity)
        }
        if c.ropeScaling == .none {
            return RopeAngles(rotaryDims: c.ropeDimensions, base: Float(c.ropeBase), freqScale: Float(1 / c.ropeScale), capacity: capacity)
        }
        let (frequencies, magnitude) = c.ropeFrequencies(local: false)
        return RopeAngles(frequencies: frequencies, magnitude: Float(magnitude), capacity: capacity)
    }

    /// Memory held by the KV cache, in bytes.
    public var kvCacheBytes: Int { cache.bytes }

    /// Forgets the sequence so the state can start another.
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        tokens.removeAll(keepingCapacity: true)
    }

    /// Rewinds to `position` tokens (for re-using a shared prompt prefix). A sliding-window
    /// layer's ring has overwritten what lies more than a window back, so rewinding further
    /// than its spare slots allow starts the sequence over: read ``position`` afterwards.
    public func truncate(to newPosition: Int) {
        lock.lock(); defer { lock.unlock() }
        var kept = min(tokens.count, max(0, newPosition))
        if let window = transformer.config.slidingWindow, kept < tokens.count,
           let ring = cache.capacities.filter({ $0 < contextLength }).min(), kept < tokens.count - (ring - window + 1) {
            kept = 0
        }
        tokens.removeLast(tokens.count - kept)
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
        try check(tokens)
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

    /// Runs `tokens` at the next positions and hands the logits of rows `first ..< tokens.count`
    /// to `receive` (row index, `vocabulary` floats valid during the call) chunk by chunk as they
    /// are computed: memory holds one chunk's logits, not a window's, and rows before `first`
    /// never go through the output head (perplexity scores only a window's second half).
    package func forward(_ tokens: [Int], logitsFrom first: Int, receive: (Int, UnsafePointer<Float>) throws -> Void) throws {
        lock.lock(); defer { lock.unlock() }
        let vocabulary = transformer.config.vocabulary
        guard !tokens.isEmpty else { return }
        try check(tokens)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: maxBatch * vocabulary)
        defer { logits.deallocate() }
        var start = 0
        while start < tokens.count {
            let chunk = Array(tokens[start..<min(tokens.count, start + maxBatch)])
            let wanted = max(0, min(chunk.count, start + chunk.count - first))
            try ForwardPass(transformer: transformer, buffers: buffers, observer: observer)
                .run([ForwardSegment(state: self, tokens: chunk, logits: wanted > 0 ? .tail(wanted) : .none)], logits: wanted > 0 ? logits : nil)
            for row in 0..<wanted { try receive(start + chunk.count - wanted + row, logits + row * vocabulary) }
            start += chunk.count
        }
    }

    /// Throws when `tokens` do not fit the remaining context or hold an id outside the vocabulary.
    private func check(_ tokens: [Int]) throws {
        let vocabulary = transformer.config.vocabulary
        guard position + tokens.count <= contextLength else {
            throw KilnError(.usage, "context is full: \(position) + \(tokens.count) tokens exceed \(contextLength); use a larger --ctx")
        }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw KilnError(.usage, "token id \(bad) is outside the vocabulary of \(vocabulary)")
        }
    }

    /// One chunk through the model (the shared pass, with this sequence as its only segment).
    private func run(_ tokens: [Int], logits: UnsafeMutablePointer<Float>?, allRows: Bool) throws {
        let rows: LogitRows = logits == nil ? .none : (allRows ? .all : .last)
        try ForwardPass(transformer: transformer, buffers: buffers, observer: observer)
            .run([ForwardSegment(state: self, tokens: tokens, logits: rows)], logits: logits)
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
