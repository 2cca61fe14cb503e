import Foundation

/// A line on standard error: warnings, statistics and progress notes, kept apart from the
/// command's output.
package func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Text on standard output at once, unbuffered: generated text as it streams. `print()` would
/// sit in stdio's buffer and come out after the statistics written to standard error.
package func writeOutput(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Seconds since `start`, for the timings the tools print.
package func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
