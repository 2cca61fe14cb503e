import Foundation

/// Runs work on a thread with a stack of known size. Parsing and rendering recurse as deep as
/// a template nests (bounded by the parser and `Interpreter.maxRecursion`); a debug build
/// needs several KiB per level, more than a 512 KiB secondary thread (macOS, Swift
/// concurrency) can spare. Running on its own 8 MiB thread makes the bound hold whatever
/// thread the caller is on, at the cost of a thread start (tens of microseconds) per call.
enum LargeStack {
    static let size = 8 << 20

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        thread.stackSize = size
        thread.start()
        done.wait()
        return try box.result!.get()
    }

    /// Written by the worker before it signals, read by the caller after the wait.
    private final class Box<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}
