import Foundation

/// Progress on stderr: a one-line bar redrawn at most ten times a second on a terminal; when
/// stderr is a pipe or a log, a plain line every few seconds instead (so a long run is never
/// silent, and a short one adds nothing to the log).
package final class TerminalProgress: @unchecked Sendable {
    // Sendable: all mutable state is guarded by `lock`.
    /// What `done` and `total` count: bytes (the rate is shown in GB/s) or named items.
    package enum Unit: Sendable {
        case bytes
        case items(String)
    }

    private let label: String
    private let total: Int
    private let unit: Unit
    private let terminal: Bool
    private let enabled: Bool
    private let start = DispatchTime.now()
    private let lock = NSLock()
    private var lastDraw: UInt64
    /// Between plain lines when stderr is not a terminal.
    static let pipedInterval: UInt64 = 5_000_000_000

    package init(_ label: String, total: Int, unit: Unit = .bytes, enabled: Bool = true) {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.terminal = isatty(2) == 1
        self.enabled = enabled
        lastDraw = DispatchTime.now().uptimeNanoseconds
    }

    package func update(_ done: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        let interval = terminal ? 100_000_000 : Self.pipedInterval
        guard now - lastDraw > interval || (terminal && done >= total) else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let seconds = Double(now - start.uptimeNanoseconds) / 1e9
        let amount: String
        switch unit {
        case .bytes: amount = String(format: "%.2f GB/s", seconds > 0 ? Double(done) / seconds / 1e9 : 0)
        case .items(let name): amount = "\(done)/\(total) \(name)"
        }
        if terminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data(("\r\(label) \(bar) " + String(format: "%5.1f%%  ", fraction * 100) + amount + " ").utf8))
        } else {
            FileHandle.standardError.write(Data(("\(label): " + String(format: "%.1f%%, ", fraction * 100) + amount + String(format: ", %.0f s\n", seconds)).utf8))
        }
    }

    /// Clears the bar's line (nothing to clear when piped).
    package func finish() {
        guard enabled, terminal else { return }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}
