import KilnCore

/// The header of a llama2.c checkpoint (karpathy/llama2.c `export.py`, `run.c`, `runq.c`).
///
/// - Version 0 (legacy, read by run.c): 7 int32s — dim, hidden_dim, n_layers, n_heads,
///   n_kv_heads, vocab_size, seq_len — with a negative vocab_size meaning the classifier is
///   not shared with the embedding. No magic number.
/// - Versions 1 and 2: 256 bytes — uint32 magic 0x616b3432 ("ak42"), int32 version, the 7
///   int32s, a uint8 shared_classifier flag, and (version 2) an int32 group_size right after
///   the flag, at byte 37: unaligned, as `struct.pack` writes it.
struct Llama2cHeader {
    static let magic: UInt32 = 0x616B_3432
    static let legacySize = 28
    static let versionedSize = 256

    var version: Int
    var dim: Int
    var hiddenDim: Int
    var layers: Int
    var heads: Int
    var kvHeads: Int
    var vocabSize: Int
    var seqLen: Int
    var sharedClassifier: Bool
    var groupSize: Int?

    var headerSize: Int { version == 0 ? Self.legacySize : Self.versionedSize }
    var headSize: Int { dim / heads }
    var kvDim: Int { kvHeads * headSize }

    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)) == magic
    }

    init(_ bytes: UnsafeRawBufferPointer) throws {
        var reader = ByteReader(bytes)
        if Self.hasMagic(bytes) {
            _ = try reader.read(UInt32.self, "magic")
            let version = try reader.read(Int32.self, "version")
            guard version == 1 || version == 2 else {
                throw KilnError(.unsupported, "llama2.c version \(version) is not supported (0, 1 and 2 are)", offset: 4)
            }
            self.version = Int(version)
        } else {
            version = 0
        }
        func field(_ name: String) throws -> Int { Int(try reader.read(Int32.self, name)) }
        dim = try field("dim")
        hiddenDim = try field("hidden_dim")
        layers = try field("n_layers")
        heads = try field("n_heads")
        kvHeads = try field("n_kv_heads")
        let vocab = try field("vocab_size")
        seqLen = try field("seq_len")
        if version == 0 {
            sharedClassifier = vocab > 0
            vocabSize = abs(vocab) // Int from Int32: no overflow
        } else {
            vocabSize = vocab
            let flag = try reader.read(UInt8.self, "shared_classifier")
            guard flag <= 1 else { throw KilnError.malformed("shared_classifier flag is \(flag), expected 0 or 1", at: 36) }
            sharedClassifier = flag == 1
            if version == 2 { groupSize = try field("group_size") }
            guard bytes.count >= Self.versionedSize else {
                throw KilnError.malformed("truncated: the version \(version) header is 256 bytes but the file has \(bytes.count)", at: 0)
            }
        }
        try validate()
    }

    func validate() throws {
        let fields = [("dim", dim), ("hidden_dim", hiddenDim), ("n_layers", layers), ("n_heads", heads),
                      ("n_kv_heads", kvHeads), ("vocab_size", vocabSize), ("seq_len", seqLen)]
        for (name, value) in fields where value <= 0 {
            throw KilnError.malformed("\(name) is \(value), expected a positive number", at: version == 0 ? 0 : 8, "header")
        }
        guard dim % heads == 0, heads % kvHeads == 0 else {
            throw KilnError.malformed("dim \(dim), n_heads \(heads) and n_kv_heads \(kvHeads) do not divide evenly", at: version == 0 ? 0 : 8, "header")
        }
        if version == 0, headSize % 2 != 0 {
            throw KilnError.malformed("head size \(headSize) is odd; the RoPE tables need it even", at: 0, "header")
        }
        if let groupSize, groupSize <= 0 {
            throw KilnError.malformed("group_size is \(groupSize), expected a positive number", at: 37, "header")
        }
    }

    var metadata: [String: MetadataValue] {
        var m: [String: MetadataValue] = [
            "llama2c.version": .int(Int64(version)), "llama2c.dim": .int(Int64(dim)), "llama2c.hidden_dim": .int(Int64(hiddenDim)),
            "llama2c.n_layers": .int(Int64(layers)), "llama2c.n_heads": .int(Int64(heads)), "llama2c.n_kv_heads": .int(Int64(kvHeads)),
            "llama2c.vocab_size": .int(Int64(vocabSize)), "llama2c.seq_len": .int(Int64(seqLen)),
            "llama2c.shared_classifier": .bool(sharedClassifier),
        ]
        if let groupSize { m["llama2c.group_size"] = .int(Int64(groupSize)) }
        return m
    }

    var summary: String {
        "version \(version), dim \(dim), hidden_dim \(hiddenDim), n_layers \(layers), n_heads \(heads), n_kv_heads \(kvHeads), vocab_size \(vocabSize), seq_len \(seqLen), shared_classifier \(sharedClassifier)"
            + (groupSize.map { ", group_size \($0)" } ?? "")
    }
}
