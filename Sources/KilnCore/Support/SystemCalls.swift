import CKilnSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the few system calls Kiln makes, so that every one retries on EINTR and
/// turns a failure into a `KilnError` naming the file and the call.
enum SystemCalls {
    static func errnoMessage(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    static func fail(_ call: String, _ path: String, _ code: Int32 = errno) -> KilnError {
        KilnError(.io, "\(call) failed: \(errnoMessage(code))", file: path)
    }

    /// A write that failed: when it failed because its bytes came from a mapped input whose file
    /// shrank (the kernel says EFAULT where a load would have raised SIGBUS), the error is about
    /// that input, as the SIGBUS guard's would be; otherwise about the output.
    static func writeFailure(from bytes: UnsafeRawPointer, _ path: String, _ code: Int32 = errno) -> KilnError {
        if code == EFAULT {
            var source = [CChar](repeating: 0, count: 1024)
            var offset = 0
            if kiln_mapping_guard_lookup(bytes, &source, source.count, &offset) != 0 {
                let sourcePath = String(decoding: source.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return KilnError(.io, "the file shrank or could not be read while mapped (writing \(path) from it failed: \(errnoMessage(code)))",
                                 file: sourcePath, offset: UInt64(offset))
            }
        }
        return fail("write", path, code)
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws -> Int32 {
        while true {
            let fd = path.withCString { libc_open($0, flags, mode) }
            if fd >= 0 { return fd }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    static func close(_ fd: Int32) {
        _ = libc_close(fd)
    }

    static func fileSize(_ fd: Int32, _ path: String) throws -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("fstat", path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw KilnError(.io, "not a regular file", file: path)
        }
        return Int(info.st_size)
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = libc_write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw writeFailure(from: bytes.baseAddress! + done, path)
            }
            done += n
        }
    }

    /// Reads up to `count` bytes at `offset`, retrying short reads and EINTR; returns the bytes read.
    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int, _ path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = libc_pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read", path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes` at `offset` without moving the file position.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = libc_pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw writeFailure(from: bytes.baseAddress! + done, path)
            }
            done += n
        }
    }

    /// Asks the kernel to start writing `range` of the file to disk, without waiting for it.
    /// Advisory: errors surface at the later fsync. A no-op where there is no such call.
    static func startWriteback(_ fd: Int32, range: Range<Int>) {
        kiln_start_writeback(fd, Int64(range.lowerBound), Int64(range.count))
    }

    static func fsync(_ fd: Int32, _ path: String) throws {
        #if canImport(Darwin)
        // fsync on Darwin does not flush the drive's cache; F_FULLFSYNC does.
        if fcntl(fd, F_FULLFSYNC) == 0 { return }
        #endif
        guard libc_fsync(fd) == 0 else { throw fail("fsync", path) }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard libc_rename(from, to) == 0 else { throw fail("rename to \(to)", from) }
    }

    static func unlink(_ path: String) {
        _ = libc_unlink(path)
    }

    /// Flushes the directory entry after a rename, so the new name survives a crash.
    static func syncDirectory(_ directory: String) {
        guard let fd = try? open(directory, O_RDONLY) else { return }
        _ = libc_fsync(fd)
        close(fd)
    }
}

// Unqualified names that would otherwise resolve to the static methods above.
@inline(__always) private func libc_open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}
@inline(__always) private func libc_close(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func libc_write(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> Int { write(fd, buf, n) }
@inline(__always) private func libc_pread(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int, _ off: off_t) -> Int {
    pread(fd, buf, n, off)
}
@inline(__always) private func libc_pwrite(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int, _ off: off_t) -> Int {
    pwrite(fd, buf, n, off)
}
@inline(__always) private func libc_fsync(_ fd: Int32) -> Int32 { fsync(fd) }
@inline(__always) private func libc_rename(_ a: String, _ b: String) -> Int32 { rename(a, b) }
@inline(__always) private func libc_unlink(_ p: String) -> Int32 { unlink(p) }
