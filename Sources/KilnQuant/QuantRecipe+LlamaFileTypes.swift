extension QuantRecipe {
    /// llama-quantize's per-tensor choices (`llama_tensor_get_type` in llama.cpp's
    /// src/llama-quant.cpp) for its `Q4_K_M`, `Q5_K_M` and `Q6_K` file types on a dense model
    /// (no experts, not Falcon, below 70B), written as rules:
    ///
    /// - the output head, and the token embedding when it doubles as the head, get q6_k;
    /// - Q4_K_M and Q5_K_M give q6_k to the value projection and the down projection of the
    ///   layers "that use more bits": the first and last eighth, and every third in between;
    ///   a fused QKV projection gets q5_k (Q4_K_M) or q6_k (Q5_K_M);
    /// - every other matrix gets the file type's base scheme (q4_k, q5_k, q6_k);
    /// - a row length that is not a multiple of 256 takes the scheme's
    ///   ``QuantScheme/fallback`` (q4_k → q5_0, q5_k → q5_1, q6_k → q8_0), as llama-quantize does.
    ///
    /// `kq4_m` is Kiln's own variant: Q4_K_M's choices with kq4 as the base scheme, so rows of
    /// any multiple of 32 stay at 4.5 bits instead of falling back to q5_0.
    static func llamaFileType(_ name: String, layers: Int, tiedEmbeddings: Bool) -> QuantRecipe? {
        let base: QuantScheme
        switch name {
        case "q4_k_m": base = .q4_k
        case "q5_k_m": base = .q5_k
        case "q6_k": base = .q6_k
        case "kq4_m": base = .kq4
        default: return nil
        }
        var rules = [Rule("output.weight", .q6_k)]
        if tiedEmbeddings { rules.append(Rule("token_embd.weight", .q6_k)) }
        if base != .q6_k {
            for layer in 0..<layers where usesMoreBits(layer, of: layers) {
                rules.append(Rule("blk.\(layer).attn_v.weight", .q6_k))
                rules.append(Rule("blk.\(layer).ffn_down.weight", .q6_k))
            }
            rules.append(Rule("blk.*.attn_qkv.weight", base == .q5_k ? .q6_k : .q5_k))
        }
        return QuantRecipe(name: name, defaultScheme: base, rules: rules)
    }

    /// llama-quantize's `use_more_bits`: the first and last eighth of the layers and every third
    /// layer in between.
    static func usesMoreBits(_ layer: Int, of layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }
}
