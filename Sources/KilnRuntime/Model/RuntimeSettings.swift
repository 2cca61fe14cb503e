/// Process-wide settings of the runtime.
public enum RuntimeSettings {
    /// Threads the matrix products use (default: every core).
    public static func setThreads(_ count: Int) {
        Ops.setThreads(max(1, count))
    }
}
