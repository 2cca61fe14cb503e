import Foundation
import KilnCore

/// Checks a `.kiln` file's tensor checksums while a command runs it: opening stays O(header),
/// yet flipped bytes are noticed instead of generating nonsense with exit status 0. One
/// background thread hashes the file while the model works; the first damaged tensor stops
/// the process with exit status 1 and an error naming it. `--no-verify` skips this.
package enum BackgroundVerification {
    private static let group = DispatchGroup()

    /// Starts checking `file` (opened from `path`) on a background thread.
    package static func start(_ file: KilnFile, path: String) {
        group.enter()
        Thread.detachNewThread {
            let report = file.verify(threads: 1)
            if let failure = report.failures.first {
                let error = KilnError(.checksum, """
                    \(failure.error.message); the file is damaged (`kiln verify` lists every bad tensor; \
                    --no-verify runs it anyway)
                    """, file: path, location: "tensor '\(failure.tensor)'")
                CommandLineMode.fail(with: error)
            }
            group.leave()
        }
    }

    /// Waits for every check started to finish (a damaged file exits from inside).
    package static func wait() { group.wait() }
}

/// How the running tool reports errors, for the few places that must report one outside the
/// normal `throw` path (a background check).
package enum CommandLineMode {
    nonisolated(unsafe) static var json = false
    nonisolated(unsafe) static var commandName = "kiln"

    /// Prints `error` as the tool prints any error and exits with its status.
    package static func fail(with error: KilnError) -> Never {
        let status = exitStatus(for: error)
        if json { writeOutput(errorJSON(error, status: status).serialized() + "\n") }
        else { printError("\(commandName): error: \(error)") }
        exit(status)
    }
}
