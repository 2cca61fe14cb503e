// The GPT runtime: GPT-2 and Llama-family decoders, the byte-level BPE tokenizer, sampling,
// chat sessions and perplexity, over models read zero-copy from any format Kiln reads.
@_exported import KilnCore
@_exported import KilnFormats
// Chat templates (the Jinja interpreter) are their own module; its public surface is what a
// chat app needs (ChatTemplate, ChatMessage, TemplateValue, ChatTemplateError), so all of it
// comes with the runtime.
@_exported import KilnChatTemplates
