// The GPT runtime: GPT-2 and Llama-family decoders, the byte-level BPE tokenizer, sampling,
// chat templates and perplexity, over models read zero-copy from any format Kiln reads.
@_exported import KilnCore
@_exported import KilnFormats
