import KilnFormats

/// The tokenizer of a model, built from a `TokenizerSpec`, giving the ids llama.cpp and Hugging
/// Face tokenizers give: byte-level BPE (GPT-2, Llama 3, SmolLM, Qwen2, …) and SentencePiece
/// vocabularies (Llama 2, Mistral, Gemma, llama2.c: merged by score or rank, or unigram).
///
/// `encode` works in four steps: special/added tokens are cut out of the text first
/// (`SpecialTokenMatcher`); the rest is split into pieces by the vocabulary's pre-tokenizer
/// (`PreTokenizer`, or `SentencePieceText`); each piece's UTF-8 bytes (or characters) start as
/// one symbol each; and symbols are merged within the piece (`BytePairMerger`,
/// `SentencePieceMerger`) or segmented (`UnigramSegmenter`).
public final class BPETokenizer: Sendable {
    /// The description the tokenizer was built from (vocabulary, special tokens, chat template).
    public let spec: TokenizerSpec
    package let preTokenizer: PreTokenizer
    /// Things the caller should know: an unknown pre-tokenizer name (GPT-2's is used), merge
    /// rules that name tokens missing from the vocabulary.
    public let warnings: [String]

    let vocabulary: Vocabulary
    /// The byte-level model; nil for a SentencePiece vocabulary.
    private let merger: BytePairMerger?
    /// The SentencePiece model; nil for a byte-level vocabulary.
    private let sentencePiece: SentencePieceEncoder?
    /// Ordinary tokens by the bytes they stand for, when a piece that is a vocabulary entry is
    /// taken whole (Llama 3's `ignore_merges`); nil otherwise.
    private let wholeWords: TokenIndex?
    /// Control, user-defined and unknown tokens (`parseSpecial: true`), and user-defined only
    /// (`false`): like llama.cpp and HF, added tokens that are not special are always matched.
    private let specialTokens: SpecialTokenMatcher
    private let addedTokens: SpecialTokenMatcher
    private let cache = WordCache()
    /// Whether decoding takes one space off the start of the text: the space SentencePiece
    /// encoding put there (llama.cpp's `remove_space`, HF's `Strip` decoder).
    package let stripsLeadingSpace: Bool

    /// Builds the tokenizer's tables from `spec`.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.unsupported` if the model is not one Kiln runs
    ///   (`gpt2`, `llama`, `unigram`); `.malformed` if the vocabulary is empty, the kinds or
    ///   scores do not match the tokens, a score is NaN, or a special token id is outside the
    ///   vocabulary.
    public init(_ spec: TokenizerSpec) throws {
        guard ["gpt2", "llama", "unigram"].contains(spec.model) else {
            throw KilnError(.unsupported, "tokenizer model '\(spec.model)' is not one Kiln runs: byte-level BPE ('gpt2') or SentencePiece ('llama', 'unigram')")
        }
        try spec.validate()
        self.spec = spec
        var warnings: [String] = []
        let vocabulary = Vocabulary(spec)
        self.vocabulary = vocabulary
        if spec.model == "gpt2" {
            if let known = PreTokenizer(vocabularyName: spec.pre) {
                preTokenizer = known
            } else {
                preTokenizer = .gpt2
                warnings.append("unknown pre-tokenizer '\(spec.pre)': using GPT-2's; token ids may differ from the model's own tokenizer")
            }
            let merges = MergeTable(merges: spec.merges, index: vocabulary.index)
            if merges.unusable > 0 {
                warnings.append("\(merges.unusable) of \(spec.merges.count) merge rules name tokens missing from the vocabulary and are ignored")
            }
            let byteTokens = ByteLevelAlphabet.scalarOfByte.map { vocabulary.index.id(of: String($0)) ?? -1 }
            merger = BytePairMerger(merges: merges, byteTokens: byteTokens)
            sentencePiece = nil
            wholeWords = PreTokenizer.ignoresMerges(vocabularyName: spec.pre) ? vocabulary.indexByBytes() : nil
            stripsLeadingSpace = false
        } else {
            preTokenizer = .gpt2   // not used
            merger = nil
            sentencePiece = try SentencePieceEncoder(spec, vocabulary: vocabulary, warnings: &warnings)
            wholeWords = nil
            stripsLeadingSpace = spec.addSpacePrefix
        }

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
        if let sentencePiece {
            sentencePiece.encode(text.bytes[text.byteStart[range.lowerBound]..<text.byteStart[range.upperBound]],
                                 atStart: range.lowerBound == 0, into: &ids)
            return
        }
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
            merger?.encode(bytes, into: &result)
        }
        cache.store(result, for: word)
        ids.append(contentsOf: result)
    }

    /// The text of `ids`: ordinary tokens as the bytes they stand for (SentencePiece's `▁` as a
    /// space, less the one encoding put first), added tokens as their
    /// text (left out when `skipSpecial` and the token is control or unknown). Ids outside the
    /// vocabulary are ignored; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        var stripping = stripsLeadingSpace
        for id in ids {
            appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes)
            // The space SentencePiece put before the text comes off the first token giving any.
            if stripping && !bytes.isEmpty {
                if bytes[0] == 0x20 { bytes.removeFirst() }
                stripping = false
            }
        }
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
