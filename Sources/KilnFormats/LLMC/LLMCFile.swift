import KilnCore

/// An llm.c GPT-2 checkpoint (karpathy/llm.c `train_gpt2.py` write_model, `train_gpt2.c`
/// gpt2_build_from_checkpoint): 256 int32s of header — magic 20240326, version (3 = fp32,
/// 5 = bf16), max_seq_len, vocab_size, num_layers, num_heads, channels, padded_vocab_size —
/// then 16 parameter arrays back to back in `fill_in_parameter_sizes` order, each holding
/// every layer. Per-layer arrays are split into `layers.N.<name>`; shapes are nn.Linear
/// (out, in), outermost first (the HF Conv1D weights were transposed on export).
enum LLMCFile {
    static let magic: Int32 = 20_240_326
    /// llm.c's other files share the header style; named so a user who passes one learns why it fails.
    static let otherMagics: [Int32: String] = [20_240_327: "an llm.c debug state file", 20_240_328: "an llm.c tokenizer file"]
    static let headerSize = 1024

    static func open(_ mapping: MappedFile) throws -> FixedLayoutFile {
        try withFileContext(mapping.path) {
            var reader = ByteReader(mapping.bytes)
            let magic = try reader.read(Int32.self, "magic")
            if let other = otherMagics[magic] {
                throw KilnError(.unsupported, "this is \(other) (magic \(magic)), not a model checkpoint", offset: 0)
            }
            guard magic == Self.magic else {
                throw KilnError.malformed("magic is \(magic), expected \(Self.magic)", at: 0)
            }
            let version = try reader.read(Int32.self, "version")
            let type: ElementType
            switch version {
            case 3: type = .f32
            case 5: type = .bf16
            default:
                throw KilnError(.unsupported, "llm.c checkpoint version \(version) is not supported (3 = fp32 and 5 = bf16 are); re-export it with train_gpt2.py", offset: 4)
            }
            var fields: [Int] = []
            for name in ["max_seq_len", "vocab_size", "num_layers", "num_heads", "channels", "padded_vocab_size"] {
                let offset = reader.fileOffset
                let value = Int(try reader.read(Int32.self, name))
                guard value > 0 else { throw KilnError.malformed("\(name) is \(value), expected a positive number", at: offset, "header") }
                fields.append(value)
            }
            guard mapping.count >= headerSize else {
                throw KilnError.malformed("truncated: the header is \(headerSize) bytes but the file has \(mapping.count)", at: 0)
            }
            let (maxT, vocab, layers, heads, channels, paddedVocab) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
            guard paddedVocab >= vocab else {
                throw KilnError.malformed("padded_vocab_size \(paddedVocab) is smaller than vocab_size \(vocab)", at: 28, "header")
            }
            guard channels % heads == 0 else {
                throw KilnError.malformed("channels \(channels) is not a multiple of num_heads \(heads)", at: 24, "header")
            }
            let c = channels
            let c3 = try Checked.multiply(3, c, "3 × channels"), c4 = try Checked.multiply(4, c, "4 × channels")
            var layout = FixedLayout(start: headerSize, limit: mapping.count)
            try layout.add("wte", type, [paddedVocab, c])
            try layout.add("wpe", type, [maxT, c])
            let perLayer: [(String, [Int])] = [
                ("ln1w", [c]), ("ln1b", [c]), ("qkvw", [c3, c]), ("qkvb", [c3]), ("attprojw", [c, c]), ("attprojb", [c]),
                ("ln2w", [c]), ("ln2b", [c]), ("fcw", [c4, c]), ("fcb", [c4]), ("fcprojw", [c, c4]), ("fcprojb", [c]),
            ]
            for (name, shape) in perLayer {
                for l in 0..<layers { try layout.add("layers.\(l).\(name)", type, shape) }
            }
            try layout.add("lnfw", type, [c])
            try layout.add("lnfb", type, [c])
            try layout.finish(fileSize: mapping.count, describe:
                "version \(version), max_seq_len \(maxT), vocab_size \(vocab), num_layers \(layers), num_heads \(heads), channels \(c), padded_vocab_size \(paddedVocab)")
            let metadata: [String: MetadataValue] = [
                "llmc.version": .int(Int64(version)), "llmc.max_seq_len": .int(Int64(maxT)), "llmc.vocab_size": .int(Int64(vocab)),
                "llmc.num_layers": .int(Int64(layers)), "llmc.num_heads": .int(Int64(heads)), "llmc.channels": .int(Int64(c)),
                "llmc.padded_vocab_size": .int(Int64(paddedVocab)),
            ]
            return FixedLayoutFile(formatName: "llmc", mapping: mapping, metadata: metadata, layout: layout)
        }
    }
}
