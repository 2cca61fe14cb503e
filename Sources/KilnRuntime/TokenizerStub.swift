// Temporary stand-in until the tokenizer branch lands (it replaces this file).
import KilnFormats

public final class BPETokenizer: Sendable {
    public let spec: TokenizerSpec
    public init(_ spec: TokenizerSpec) throws { self.spec = spec }
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] { [] }
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        ids.map { spec.tokens[$0] }.joined()
    }
}

public struct StreamingDecoder {
    let tokenizer: BPETokenizer
    public init(_ tokenizer: BPETokenizer, skipSpecial: Bool = true) { self.tokenizer = tokenizer }
    public mutating func append(_ id: Int) -> String { tokenizer.decode([id]) }
    public mutating func flush() -> String { "" }
}
