import KilnCore

/// llm.c GPT-2 checkpoints (`gpt2_124M.bin`, `gpt2_124M_bf16.bin`).
package struct LLMCFormatPlugin: FormatPlugin {
    package init() {}
    package var name: String { "llmc" }
    package var summary: String { "llm.c GPT-2 checkpoint .bin (version 3 fp32, 5 bf16)" }
    /// `bin` is left to llama2.c's extension fallback: llm.c files always carry their magic.
    package var fileExtensions: [String] { [] }

    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        guard prefix.count >= 4 else { return false }
        let magic = Int32(littleEndian: prefix.loadUnaligned(as: Int32.self))
        return magic == LLMCFile.magic || LLMCFile.otherMagics[magic] != nil
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        try LLMCFile.open(try MappedFile(path: path))
    }
}
