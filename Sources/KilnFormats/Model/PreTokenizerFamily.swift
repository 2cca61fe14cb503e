/// The four ways byte-level BPE vocabularies cut text before merging, and which vocabulary
/// (`tokenizer.pre`) names belong to each, as llama.cpp's `llama_vocab::impl::load` maps them.
/// The runtime splits text by these rules (it names this type `PreTokenizer` and adds the
/// splitting); the Hugging Face export writes them as `tokenizer.json` pre-tokenizers. One type,
/// so the two cannot disagree.
package enum PreTokenizerFamily: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2 = "gpt-2"
    /// StarCoder, SmolLM: every `\p{N}` character is a piece of its own (HF `Digits` with
    /// `individual_digits`), then GPT-2's pattern splits the text between them.
    case digitsThenGPT2 = "smollm"
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3 = "llama-bpe"
    /// Qwen2: Llama 3's pattern with single digits (`\p{N}` for `\p{N}{1,3}`).
    case qwen2 = "qwen2"

    package init?(vocabularyName name: String) {
        switch name {
        case "gpt-2", "phi-2", "mpt", "olmo", "jais", "roberta-bpe", "jina-v1-en", "jina-v2-code", "jina-es",
             "jina-de", "jina-v2-es", "jina-v2-de", "gigachat", "a.x-4.0", "mellum", "modern-bert", "exaone4":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            self = .digitsThenGPT2
        case "llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
             "dbrx", "smaug-bpe":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2":
            self = .qwen2
        default:
            return nil
        }
    }

    /// Whether a piece that is itself a vocabulary entry is taken whole, skipping the merges
    /// (HF's BPE `ignore_merges`). llama.cpp sets it for the Llama 3 names only, not for
    /// dbrx/smaug-bpe, which share the pattern; Llama 3's `tokenizer.json` sets it too.
    package static func ignoresMerges(vocabularyName name: String) -> Bool {
        ["llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"]
            .contains(name)
    }

    /// Llama 3's expression as its `tokenizer.json` spells it.
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's: Llama 3's with `\p{N}` for `\p{N}{1,3}`.
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
}
