import Dispatch
import Foundation
import KilnCore

/// The SHA-256 of a conversion's source files, computed on a thread of its own from the moment
/// it is made, so the serial pass over every input byte overlaps the work that reads them
/// (`SHA256.hexOfFile`, which keeps none of them resident).
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
                    let (bytes, sha256) = try SHA256.hexOfFile(path)
                    return Source(path: path, bytes: bytes, sha256: sha256)
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
