#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Heap memory whose size came from a file or a user: allocated so that a refusal is an error,
/// not a crash. Swift's `allocate` aborts the process when the system says no (a size from a
/// hostile header, a `--ctx` of 10⁸, a 4.8 GB member under `ulimit -v`); this asks
/// `posix_memalign`, which returns an error code, and turns that into a `KilnError`.
public enum Allocation {
    /// Bytes of physical memory on this machine (a ceiling for estimates before allocating).
    public static var physicalMemory: UInt64 { ProcessInfo.processInfo.physicalMemory }

    /// `count` bytes aligned to `alignment` (a power of two ≥ the pointer size); free them with
    /// `Allocation.free`. Throws an `.io` error naming `purpose` when the system refuses.
    public static func bytes(_ count: Int, alignment: Int = 64, for purpose: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard count >= 0 else {
            throw KilnError(.usage, "cannot allocate \(count) bytes for \(purpose())")
        }
        var pointer: UnsafeMutableRawPointer?
        let status = posix_memalign(&pointer, alignment, max(count, 1))
        guard status == 0, let pointer else {
            throw KilnError(.io, "cannot allocate \(count) bytes (\(describe(count))) for \(purpose()): \(String(cString: strerror(status)))")
        }
        return pointer
    }

    /// `count` values of `T`, zero-filled (the same failure rules as `bytes`).
    public static func zeroed<T>(_ type: T.Type, count: Int, for purpose: @autoclosure () -> String) throws -> UnsafeMutablePointer<T> {
        let byteCount = try Checked.multiply(count, MemoryLayout<T>.stride, purpose())
        let raw = try bytes(byteCount, alignment: max(MemoryLayout<T>.alignment, 64), for: purpose())
        memset(raw, 0, max(byteCount, 1))
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Frees memory from `bytes` or `zeroed` (it came from `posix_memalign`, so not `deallocate`).
    public static func free(_ pointer: UnsafeMutableRawPointer) {
        #if canImport(Darwin)
        Darwin.free(pointer)
        #elseif canImport(Musl)
        Musl.free(pointer)
        #else
        Glibc.free(pointer)
        #endif
    }

    /// A size for people: `2.1 TiB`, `512.0 MiB`.
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit + 1 < units.count { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
