import Foundation

extension BPETokenizer {
    /// Token ids of pieces already encoded, shared by all callers of one tokenizer. Text repeats
    /// its words, so most pieces are looked up instead of merged. Bounded like HF tokenizers' BPE
    /// cache: once full it stops taking new words, so memory cannot grow with the input.
    final class WordCache: @unchecked Sendable {
        // @unchecked Sendable: every access to `words` holds `lock`.
        private var words: [ByteKey: [Int32]] = [:]
        private let lock = NSLock()
        let capacity: Int

        init(capacity: Int = 50_000) { self.capacity = capacity }

        func ids(of word: ByteKey) -> [Int32]? {
            lock.lock()
            defer { lock.unlock() }
            return words[word]
        }

        func store(_ ids: [Int32], for word: ByteKey) {
            lock.lock()
            defer { lock.unlock() }
            if words.count < capacity { words[word] = ids }
        }
    }
}
