import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal (so logs and pipes
/// stay clean). Redraws at most ten times a second.
package final class TerminalProgress: @unchecked Sendable {
    // Sendable: all mutable state is guarded by `lock`.
    private let label: String
    private let total: Int
    private let enabled: Bool
    private let start = DispatchTime.now()
    private let lock = NSLock()
    private var lastDraw: UInt64 = 0

    package init(_ label: String, total: Int, enabled: Bool = isatty(2) == 1) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
    }

    package func update(_ done: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDraw > 100_000_000 || done >= total else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = Double(now - start.uptimeNanoseconds) / 1e9
        let rate = seconds > 0 ? Double(done) / seconds / 1e9 : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = "\r\(label) \(bar) " + String(format: "%5.1f%%  %.2f GB/s ", fraction * 100, rate)
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    /// Clears the line.
    package func finish() {
        guard enabled else { return }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}
