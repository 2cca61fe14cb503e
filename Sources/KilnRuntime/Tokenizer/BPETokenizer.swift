import KilnFormats

/// A byte-level BPE tokenizer (GPT-2, Llama 3, SmolLM, Qwen2, …) built from a `TokenizerSpec`,
/// giving the ids llama.cpp and Hugging Face tokenizers give.
///
/// `encode` works in four steps: special/added tokens are cut out of the text first
/// (`SpecialTokenMatcher`); the rest is split into pieces by the vocabulary's pre-tokenizer
/// (`PreTokenizer`); each piece's UTF-8 bytes start as one byte-level symbol each; and merges
/// are applied by rank within the piece (`BytePairMerger`), with results cached per piece.
public final class BPETokenizer: Sendable {
    /// The description the tokenizer was built from (vocabulary, special tokens, chat template).
    public let spec: TokenizerSpec
    package let preTokenizer: PreTokenizer
    /// Things the caller should know: an unknown pre-tokenizer name (GPT-2's is used), merge
    /// rules that name tokens missing from the vocabulary.
    public let warnings: [String]

    let vocabulary: Vocabulary
    private let merger: BytePairMerger
    /// Ordinary tokens by the bytes they stand for, when a piece that is a vocabulary entry is
    /// taken whole (Llama 3's `ignore_merges`); nil otherwise.
    private let wholeWords: TokenIndex?
    /// Control, user-defined and unknown tokens (`parseSpecial: true`), and user-defined only
    /// (`false`): like llama.cpp and HF, added tokens that are not special are always matched.
    private let specialTokens: SpecialTokenMatcher
    private let addedTokens: SpecialTokenMatcher
    private let cache = WordCache()

    /// Builds the tokenizer's tables from `spec`.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.unsupported` if the model is not byte-level BPE (`gpt2`);
    ///   `.malformed` if the vocabulary is empty, the kinds do not match the tokens, or a special
    ///   token id is outside the vocabulary.
    public init(_ spec: TokenizerSpec) throws {
        guard spec.model == "gpt2" else {
            throw KilnError(.unsupported, "tokenizer model '\(spec.model)' is not byte-level BPE ('gpt2'); Kiln runs only byte-level BPE")
        }
        try spec.validate()
        self.spec = spec
        var warnings: [String] = []
        if let known = PreTokenizer(vocabularyName: spec.pre) {
            preTokenizer = known
        } else {
            preTokenizer = .gpt2
            warnings.append("unknown pre-tokenizer '\(spec.pre)': using GPT-2's; token ids may differ from the model's own tokenizer")
        }

        let vocabulary = Vocabulary(spec)
        self.vocabulary = vocabulary
        let merges = MergeTable(merges: spec.merges, index: vocabulary.index)
        if merges.unusable > 0 {
            warnings.append("\(merges.unusable) of \(spec.merges.count) merge rules name tokens missing from the vocabulary and are ignored")
        }
        let byteTokens = ByteLevelAlphabet.scalarOfByte.map { vocabulary.index.id(of: String($0)) ?? -1 }
        merger = BytePairMerger(merges: merges, byteTokens: byteTokens)

        wholeWords = PreTokenizer.ignoresMerges(vocabularyName: spec.pre) ? vocabulary.indexByBytes() : nil

        let added = spec.tokens.indices.filter { Vocabulary.isAdded(vocabulary.kinds[$0]) }
        specialTokens = SpecialTokenMatcher(added.map { (spec.tokens[$0], $0) })
        addedTokens = SpecialTokenMatcher(added.filter { vocabulary.kinds[$0] == .userDefined }.map { (spec.tokens[$0], $0) })
        self.warnings = warnings
    }

    /// The number of token ids.
    public var vocabularySize: Int { vocabulary.count }

    /// Token ids for `text`; no BOS/EOS added. With `parseSpecial`, the text of a control or
    /// user-defined token (`<|im_start|>`) becomes that token's id, as transformers does;
    /// without it only user-defined (added, non-special) tokens are matched, as in llama.cpp's
    /// `parse_special = false`, so text from a user cannot forge a control token.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        let text = PreTokenizer.ScalarText(text)
        let matcher = parseSpecial ? specialTokens : addedTokens
        var ids: [Int32] = []
        ids.reserveCapacity(text.bytes.count / 3)
        var ends: [Int] = []
        var segmentStart = 0
        if !matcher.isEmpty {
            text.scalars.withUnsafeBufferPointer { scalars in
                var i = 0
                while i < scalars.count {
                    if let (length, id) = matcher.match(scalars, at: i) {
                        encodeSegment(text, segmentStart..<i, ends: &ends, into: &ids)
                        ids.append(Int32(id))
                        i += length
                        segmentStart = i
                    } else {
                        i += 1
                    }
                }
            }
        }
        encodeSegment(text, segmentStart..<text.count, ends: &ends, into: &ids)
        return ids.map(Int.init)
    }

    /// Text between special tokens: pre-tokenize, then BPE each piece.
    private func encodeSegment(_ text: PreTokenizer.ScalarText, _ range: Range<Int>, ends: inout [Int], into ids: inout [Int32]) {
        guard !range.isEmpty else { return }
        ends.removeAll(keepingCapacity: true)
        preTokenizer.split(text, range, into: &ends)
        var start = range.lowerBound
        for end in ends {
            encodePiece(text.bytes[text.byteStart[start]..<text.byteStart[end]], into: &ids)
            start = end
        }
    }

    private func encodePiece(_ bytes: ArraySlice<UInt8>, into ids: inout [Int32]) {
        let word = ByteKey(bytes)
        if let cached = cache.ids(of: word) {
            ids.append(contentsOf: cached)
            return
        }
        var result: [Int32] = []
        if let whole = wholeWords?.id(of: bytes) {
            result.append(whole)
        } else {
            merger.encode(bytes, into: &result)
        }
        cache.store(result, for: word)
        ids.append(contentsOf: result)
    }

    /// The text of `ids`: byte-level tokens as the bytes they stand for, added tokens as their
    /// text (left out when `skipSpecial` and the token is control or unknown). Ids outside the
    /// vocabulary are ignored; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func appendBytes(of id: Int, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0 && id < vocabulary.count, !(skipSpecial && vocabulary.isSkippable(id)) else { return }
        vocabulary.appendBytes(of: id, to: &bytes)
    }

    /// The raw vocabulary entry (in the byte-level alphabet for ordinary tokens).
    public func token(_ id: Int) -> String? {
        id >= 0 && id < vocabulary.count ? vocabulary.tokens[id] : nil
    }

    /// The id of a raw vocabulary entry.
    public func id(of token: String) -> Int? { vocabulary.id(of: token) }
}
