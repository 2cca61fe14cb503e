import Dispatch
import Foundation
import KilnCore

/// The SHA-256 of a conversion's source files, computed on a thread of its own from the moment
/// it is made, so the serial pass over every input byte overlaps the work that reads them.
final class SourceHashing: @unchecked Sendable {
    /// One source file: its path, size and hex digest.
    struct Source {
        let path: String
        let bytes: Int
        let sha256: String
    }

    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<[Source], Error> = .success([])

    init(paths: [String]) {
        Thread.detachNewThread { [self] in
            outcome = Result {
                try paths.map { path in
                    let mapping = try MappedFile(path: path)
                    return Source(path: path, bytes: mapping.count, sha256: SHA256.hex(mapping.bytes))
                }
            }
            done.signal()
        }
    }

    /// Waits for the hashes (once); rethrows a file that could not be read.
    func result() throws -> [Source] {
        done.wait()
        done.signal()
        return try outcome.get()
    }
}
