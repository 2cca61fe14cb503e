import KilnCore
import KilnFormats
import KilnKernels

/// An f32 vector (a norm's scale, a bias), as a view when the file stores f32, or converted.
struct Vector: @unchecked Sendable {
    // Sendable: read-only memory kept alive by `owner`.
    let values: UnsafePointer<Float>
    let count: Int
    let owner: AnyObject
}

/// One transformer block's weights. Fields a family does not use are nil.
struct LayerWeights: Sendable {
    var attentionNorm: Vector
    var attentionNormBias: Vector?
    // Llama: separate projections. GPT-2: one fused `qkv`.
    var query: Matrix?
    var key: Matrix?
    var value: Matrix?
    var queryBias: Vector?
    var keyBias: Vector?
    var valueBias: Vector?
    var qkv: Matrix?
    var qkvBias: Vector?
    var output: Matrix
    var outputBias: Vector?
    var ffnNorm: Vector
    var ffnNormBias: Vector?
    var gate: Matrix?
    var up: Matrix
    var upBias: Vector?
    var down: Matrix
    var downBias: Vector?
    // Per-head RMSNorm of queries and keys (Qwen3, Gemma 3): headDim values each.
    var queryNorm: Vector?
    var keyNorm: Vector?
    // Norms of the attention and feed-forward outputs before the residual adds (Gemma 3).
    var postAttentionNorm: Vector?
    var postFeedForwardNorm: Vector?
}

/// All weights of a model, as views into the model file wherever the layout allows (every
/// format Kiln reads keeps matrices row-major `[out, in]` after canonical mapping).
struct ModelWeights: Sendable {
    var tokenEmbedding: Matrix
    var positionEmbedding: Matrix?
    var layers: [LayerWeights]
    var outputNorm: Vector
    var outputNormBias: Vector?
    /// The output head: its own matrix, or the token embedding when tied.
    var outputHead: Matrix

    init(loader: WeightLoader, config: ModelConfig) throws {
        let model = loader.model
        tokenEmbedding = try loader.matrix("token_embd.weight", rows: config.vocabulary, cols: config.embedding)
        let gpt2 = config.family == .gpt2
        positionEmbedding = gpt2 ? try loader.matrix("position_embd.weight", rows: nil, cols: config.embedding) : nil
        let qRows = config.heads * config.headDim, kvRows = config.kvHeads * config.headDim
        layers = try (0..<config.layers).map { i in
            let p = "blk.\(i)."
            let d = config.embedding
            if gpt2 {
                return LayerWeights(
                    attentionNorm: try loader.vector(p + "attn_norm.weight", d), attentionNormBias: try loader.optionalVector(p + "attn_norm.bias", d),
                    qkv: try loader.matrix(p + "attn_qkv.weight", rows: 3 * d, cols: d), qkvBias: try loader.optionalVector(p + "attn_qkv.bias", 3 * d),
                    output: try loader.matrix(p + "attn_output.weight", rows: d, cols: d), outputBias: try loader.optionalVector(p + "attn_output.bias", d),
                    ffnNorm: try loader.vector(p + "ffn_norm.weight", d), ffnNormBias: try loader.optionalVector(p + "ffn_norm.bias", d),
                    up: try loader.matrix(p + "ffn_up.weight", rows: config.feedForward, cols: d),
                    upBias: try loader.optionalVector(p + "ffn_up.bias", config.feedForward),
                    down: try loader.matrix(p + "ffn_down.weight", rows: d, cols: config.feedForward),
                    downBias: try loader.optionalVector(p + "ffn_down.bias", d))
            }
            // A tensor the config does not use means the model would run wrong: refuse it.
            for (name, used) in [("attn_q_norm.weight", config.queryKeyNorm), ("attn_k_norm.weight", config.queryKeyNorm),
                                 ("post_attention_norm.weight", config.postNorms), ("post_ffw_norm.weight", config.postNorms)]
            where !used && model.tensor(named: p + name) != nil {
                throw KilnError(.unsupported, "the model has tensor '\(p + name)', which architecture '\(config.architecture)' does not use here",
                                file: model.reader.paths.first)
            }
            return LayerWeights(
                attentionNorm: try loader.vector(p + "attn_norm.weight", d),
                query: try loader.matrix(p + "attn_q.weight", rows: qRows, cols: d),
                key: try loader.matrix(p + "attn_k.weight", rows: kvRows, cols: d),
                value: try loader.matrix(p + "attn_v.weight", rows: kvRows, cols: d),
                queryBias: try loader.optionalVector(p + "attn_q.bias", qRows), keyBias: try loader.optionalVector(p + "attn_k.bias", kvRows),
                valueBias: try loader.optionalVector(p + "attn_v.bias", kvRows),
                output: try loader.matrix(p + "attn_output.weight", rows: d, cols: qRows),
                outputBias: try loader.optionalVector(p + "attn_output.bias", d),
                ffnNorm: try loader.vector(p + "ffn_norm.weight", d),
                gate: try loader.matrix(p + "ffn_gate.weight", rows: config.feedForward, cols: d),
                up: try loader.matrix(p + "ffn_up.weight", rows: config.feedForward, cols: d),
                down: try loader.matrix(p + "ffn_down.weight", rows: d, cols: config.feedForward),
                queryNorm: config.queryKeyNorm ? try loader.vector(p + "attn_q_norm.weight", config.headDim) : nil,
                keyNorm: config.queryKeyNorm ? try loader.vector(p + "attn_k_norm.weight", config.headDim) : nil,
                postAttentionNorm: config.postNorms ? try loader.vector(p + "post_attention_norm.weight", d) : nil,
                postFeedForwardNorm: config.postNorms ? try loader.vector(p + "post_ffw_norm.weight", d) : nil)
        }
        outputNorm = try loader.vector("output_norm.weight", config.embedding)
        outputNormBias = try loader.optionalVector("output_norm.bias", config.embedding)
        if model.tensor(named: "output.weight") != nil {
            outputHead = try loader.matrix("output.weight", rows: config.vocabulary, cols: config.embedding)
        } else {
            outputHead = tokenEmbedding
        }
    }
}

/// Fetches canonical tensors and checks their shapes against the config.
final class WeightLoader {
    let model: CanonicalModel
    let repack: Bool
    private(set) var repackedBytes = 0
    private var repackedSources: [SourceTensor] = []

    init(model: CanonicalModel, repack: Bool) {
        self.model = model
        self.repack = repack
    }

    private func tensor(_ name: String) throws -> CanonicalTensor {
        guard let tensor = model.tensor(named: name) else {
            throw KilnError(.malformed, "the model has no tensor '\(name)'", file: model.reader.paths.first)
        }
        return tensor
    }

    func matrix(_ name: String, rows: Int?, cols: Int) throws -> Matrix {
        let tensor = try tensor(name)
        guard tensor.shape.count == 2, tensor.shape[1] == cols, rows == nil || tensor.shape[0] == rows else {
            throw KilnError(.malformed, "tensor '\(name)' has shape \(tensor.shape), expected [\(rows.map(String.init) ?? "n"), \(cols)]",
                            file: model.reader.paths.first)
        }
        var data = try model.data(tensor)
        // The kernels use unaligned SIMD loads and read block fields bytewise, so a matrix only
        // needs its scalars aligned (4 bytes covers f32). GGUF aligns to 32 and `.kiln` to 64;
        // a safetensors file may leave a tensor at any offset, and only that one is copied.
        // (Demanding 64 here copied half of every GGUF's matrices: twice the memory at load.)
        if let base = data.bytes.baseAddress, Int(bitPattern: base) % 4 != 0 {
            let owned = try OwnedBytes(count: data.bytes.count)
            withExtendedLifetime(data.owner) { owned.mutableBuffer.copyMemory(from: data.bytes) }
            data = TensorData(owned)
        }
        guard let base = data.bytes.baseAddress else {
            throw KilnError(.malformed, "tensor '\(name)' is empty", file: model.reader.paths.first)
        }
        if repack, tensor.type.interleavedVariant != nil,
           let (type, packed) = withExtendedLifetime(data.owner, { Kernels.interleave(tensor.type, rows: tensor.shape[0], cols: cols, data: base) }) {
            // The copy replaces the mapped bytes: give their pages back so they are not resident twice.
            model.reader.release(tensor.source)
            repackedSources.append(tensor.source)
            repackedBytes += packed.count
            return Matrix(name: name, type: type, rows: tensor.shape[0], cols: cols, data: UnsafeRawPointer(packed.pointer), owner: packed)
        }
        return Matrix(name: name, type: tensor.type, rows: tensor.shape[0], cols: cols, data: base, owner: data.owner)
    }

    /// Gives back the pages of every repacked matrix once more: reading the next matrix maps the
    /// page-cache folios around it (fault-around), which can include pages released before.
    func releaseRepackedSources() {
        for source in repackedSources { model.reader.release(source) }
    }

    func vector(_ name: String, _ count: Int) throws -> Vector {
        let tensor = try tensor(name)
        guard tensor.elementCount == count else {
            throw KilnError(.malformed, "tensor '\(name)' has shape \(tensor.shape), expected \(count) values", file: model.reader.paths.first)
        }
        let data = try model.data(tensor)
        // With the matrices repacked, nothing else should keep the file's pages mapped: reading a
        // norm in place would fault in (and map) the page-cache folio around it, megabytes of
        // matrix bytes already copied. So vectors are copied too (a few KB each).
        if !repack, tensor.type == .f32, let base = data.bytes.baseAddress, Int(bitPattern: base) % 4 == 0 {
            return Vector(values: base.assumingMemoryBound(to: Float.self), count: count, owner: data.owner)
        }
        let converted = try withExtendedLifetime(data.owner) { try tensor.type.dequantize(data.bytes, elementCount: count) }
        let owned = try OwnedBytes(count: count * 4)
        converted.withUnsafeBytes { owned.mutableBuffer.copyMemory(from: $0) }
        return Vector(values: UnsafePointer(owned.pointer.assumingMemoryBound(to: Float.self)), count: count, owner: owned)
    }

    func optionalVector(_ name: String, _ count: Int) throws -> Vector? {
        model.tensor(named: name) == nil ? nil : try vector(name, count)
    }
}
