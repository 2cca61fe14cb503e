/// How text is cut into pieces before BPE, chosen by the vocabulary's pre-tokenizer name
/// (`tokenizer.ggml.pre`); one case per `PreTokenizerFamily`, with the same raw values.
package enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2 = "gpt-2"
    /// StarCoder, SmolLM: every `\p{N}` character is a piece of its own (HF `Digits` with
    /// `individual_digits`), then GPT-2's pattern splits the text between them.
    case digitsThenGPT2 = "smollm"
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3 = "llama-bpe"
    /// Qwen2: Llama 3's pattern with single digits (`\p{N}` for `\p{N}{1,3}`).
    case qwen2 = "qwen2"

    /// The pre-tokenizer for a vocabulary's `pre` name, or nil when Kiln does not know it
    /// (the names are listed once, in `PreTokenizerFamily`).
    package init?(vocabularyName name: String) {
        guard let family = PreTokenizerFamily(vocabularyName: name) else { return nil }
        self.init(rawValue: family.rawValue)
    }

    /// Whether a piece that is itself a vocabulary entry is taken whole, skipping the merges
    /// (HF's BPE `ignore_merges`; see `PreTokenizerFamily.ignoresMerges`).
    static func ignoresMerges(vocabularyName name: String) -> Bool {
        PreTokenizerFamily.ignoresMerges(vocabularyName: name)
    }

    /// The pieces `text` is cut into before BPE (special tokens are not looked for here).
    package func pieces(of text: String) -> [String] {
        let scalars = ScalarText(text)
        var ends: [Int] = []
        split(scalars, 0..<scalars.count, into: &ends)
        var start = 0
        return ends.map { end in
            defer { start = end }
            return String(decoding: scalars.bytes[scalars.byteStart[start]..<scalars.byteStart[end]], as: UTF8.self)
        }
    }

    /// Appends to `ends` the end (scalar index) of each piece of `range`, in order; the pieces
    /// cover `range` without gaps.
    func split(_ text: ScalarText, _ range: Range<Int>, into ends: inout [Int]) {
        switch self {
        case .gpt2:
            GPT2Splitter.split(text, range, into: &ends)
        case .llama3:
            Llama3Splitter.split(text, range, maxDigits: 3, into: &ends)
        case .qwen2:
            Llama3Splitter.split(text, range, maxDigits: 1, into: &ends)
        case .digitsThenGPT2:
            // llama.cpp applies `\p{N}` first and GPT-2's pattern to each piece it leaves, so a
            // lookahead (`\s+(?!\S)`) stops at a digit as at the end of the text: `"a  1"` →
            // `a`, `␣␣`, `1` — HF's Digits-then-ByteLevel sequence gives the same.
            var runStart = range.lowerBound
            for i in range where text.classes[i] == .number {
                if runStart < i { GPT2Splitter.split(text, runStart..<i, into: &ends) }
                ends.append(i + 1)
                runStart = i + 1
            }
            if runStart < range.upperBound { GPT2Splitter.split(text, runStart..<range.upperBound, into: &ends) }
        }
    }
}
