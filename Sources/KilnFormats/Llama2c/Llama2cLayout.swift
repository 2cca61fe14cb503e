import KilnCore

/// Where each tensor of a llama2.c checkpoint lies, from its header alone. Names are those of
/// run.c's `TransformerWeights`; per-layer arrays (`wq` holds every layer's matrix) are split
/// into `layers.N.<name>`. Shapes are PyTorch's `nn.Linear` (out, in), outermost first.
enum Llama2cLayout {
    static func layout(_ h: Llama2cHeader, fileSize: Int) throws -> FixedLayout {
        var layout = FixedLayout(start: h.headerSize, limit: fileSize)
        let perLayer: (String, [Int]) -> (String, [Int]) = { ($0, $1) }
        let attention = [perLayer("wq", [h.dim, h.dim]), perLayer("wk", [h.kvDim, h.dim]),
                         perLayer("wv", [h.kvDim, h.dim]), perLayer("wo", [h.dim, h.dim])]
        let ffn = [perLayer("w1", [h.hiddenDim, h.dim]), perLayer("w2", [h.dim, h.hiddenDim]), perLayer("w3", [h.hiddenDim, h.dim])]

        func layers(_ name: String, _ shape: [Int], _ type: ElementType = .f32) throws {
            for l in 0..<h.layers { try layout.add("layers.\(l).\(name)", type, shape) }
        }

        switch h.version {
        case 0:
            // export.py legacy_export / run.c memory_map_weights.
            try layout.add("token_embedding_table", .f32, [h.vocabSize, h.dim])
            try layers("rms_att_weight", [h.dim])
            for (name, shape) in attention { try layers(name, shape) }
            try layers("rms_ffn_weight", [h.dim])
            for (name, shape) in ffn { try layers(name, shape) }
            try layout.add("rms_final_weight", .f32, [h.dim])
            // RoPE tables that run.c skips (`freq_cis_real`, `freq_cis_imag`): still in the file.
            try layout.add("freq_cis_real", .f32, [h.seqLen, h.headSize / 2])
            try layout.add("freq_cis_imag", .f32, [h.seqLen, h.headSize / 2])
            if !h.sharedClassifier { try layout.add("wcls", .f32, [h.vocabSize, h.dim]) }
        case 1:
            // export.py version1_export: norms first, then the embedding, then the matrices.
            try layers("rms_att_weight", [h.dim])
            try layers("rms_ffn_weight", [h.dim])
            try layout.add("rms_final_weight", .f32, [h.dim])
            try layout.add("token_embedding_table", .f32, [h.vocabSize, h.dim])
            for (name, shape) in attention + ffn { try layers(name, shape) }
            if !h.sharedClassifier { try layout.add("wcls", .f32, [h.vocabSize, h.dim]) }
        default:
            // export.py version2_export / runq.c: fp32 norms, then each matrix as int8 values
            // (`.q`) followed by one fp32 scale per group of group_size values (`.s`), the
            // groups running over the matrix flattened in row-major order.
            let groupSize = h.groupSize!
            try layers("rms_att_weight", [h.dim])
            try layers("rms_ffn_weight", [h.dim])
            try layout.add("rms_final_weight", .f32, [h.dim])
            func quantized(_ name: String, _ shape: [Int]) throws {
                let count = try shape.reduce(1) { try Checked.multiply($0, $1, "size of \(name)") }
                guard count % groupSize == 0 else {
                    throw KilnError.malformed("\(name) has \(count) values, not a multiple of group_size \(groupSize)", at: 37, "header")
                }
                try layout.add("\(name).q", .i8, shape)
                try layout.add("\(name).s", .f32, [count / groupSize])
            }
            try quantized("token_embedding_table", [h.vocabSize, h.dim])
            for (name, shape) in attention + ffn {
                for l in 0..<h.layers { try quantized("layers.\(l).\(name)", shape) }
            }
            if !h.sharedClassifier { try quantized("wcls", [h.vocabSize, h.dim]) }
        }
        return layout
    }

    /// The header fits and the file is exactly the size it implies.
    static func open(_ mapping: MappedFile) throws -> FixedLayoutFile {
        try withFileContext(mapping.path) {
            guard !mapping.bytes.starts(with: PyTorchFormatPlugin.zipMagic) else {
                throw KilnError.malformed("this is a zip archive (a PyTorch .bin?), not a llama2.c checkpoint", at: 0)
            }
            let header = try Llama2cHeader(mapping.bytes)
            let layout = try layout(header, fileSize: mapping.count)
            try layout.finish(fileSize: mapping.count, describe: header.summary)
            return FixedLayoutFile(formatName: "llama2c", mapping: mapping, metadata: header.metadata, layout: layout)
        }
    }

    /// For recognising a legacy file, which has no magic: a plausible header whose layout ends
    /// exactly at the end of the file.
    static func isConsistent(_ prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        guard let header = try? Llama2cHeader(prefix), let layout = try? layout(header, fileSize: fileSize) else { return false }
        return layout.position == fileSize
    }
}
