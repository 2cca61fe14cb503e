import KilnFormats

/// How text is cut into pieces before BPE, chosen by the vocabulary's pre-tokenizer name
/// (`tokenizer.ggml.pre`): the formats module's `PreTokenizerFamily` (which also names the
/// vocabularies and writes `tokenizer.json`), with the splitting added here.
package typealias PreTokenizer = PreTokenizerFamily

extension PreTokenizerFamily {
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
