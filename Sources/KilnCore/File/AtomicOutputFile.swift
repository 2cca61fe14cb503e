import Foundation

/// A file that appears under its final name only when complete. Bytes go to a temporary file
/// in the destination's directory (so the final `rename` stays on one file system and is
/// atomic); `commit()` flushes it to disk and renames it into place. If the writer is dropped
/// uncommitted, or the process dies, nothing appears under the final name: a dropped writer
/// deletes its temporary file, and the next writer of the same name deletes what a killed
/// process left. Every Kiln writer (`.kiln`, safetensors, GGUF, side files) writes through this.
package final class AtomicOutputFile {
    package let path: String
    package let temporaryPath: String
    /// Bytes written so far (the offset the next `write` lands at).
    package private(set) var position = 0
    private var fd: Int32
    private var done = false
    /// Where the bytes not yet handed to the disk begin (see `write`).
    private var writebackStart = 0
    /// Writeback is started every this many bytes.
    static let writebackInterval = 64 << 20

    /// Creates the temporary file. Fails if the destination's directory is not writable.
    package init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        temporaryPath = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        Self.removeStaleTemporaries(directory: directory, name: url.lastPathComponent)
        do {
            fd = try SystemCalls.open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        } catch var error as KilnError {
            // Name the destination the user asked for; the temporary name means nothing to them.
            error.file = path
            error.message = "cannot create the temporary file \(temporaryPath) beside it: \(error.message)"
            throw error
        }
    }

    deinit {
        if !done { abandon() }
    }

    /// Appends `bytes`.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!done, "AtomicOutputFile used after commit() or abandon()")
        guard bytes.count > 0 else { return }
        try fail { try SystemCalls.writeAll(fd, bytes, temporaryPath) }
        position += bytes.count
        // Start the disk writing what we have written while we go on, instead of leaving
        // gigabytes dirty in memory for `commit()`'s fsync to wait for at the end.
        if position - writebackStart >= Self.writebackInterval {
            SystemCalls.startWriteback(fd, range: writebackStart..<position)
            writebackStart = position
        }
    }

    package func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends zeros up to `offset` (no-op when already there).
    package func pad(to offset: Int) throws {
        precondition(offset >= position, "padding backwards from \(position) to \(offset)")
        var gap = offset - position
        let chunk = [UInt8](repeating: 0, count: min(gap, 1 << 16))
        while gap > 0 {
            let n = min(gap, chunk.count)
            try chunk.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            gap -= n
        }
    }

    /// Overwrites bytes already written at `offset` (a header or preamble written last)
    /// without moving the append position.
    package func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        precondition(!done, "AtomicOutputFile used after commit() or abandon()")
        precondition(offset + bytes.count <= position, "overwrite past the end of what was written")
        try fail { try SystemCalls.pwriteAll(fd, bytes, at: offset, temporaryPath) }
    }

    /// Flushes the file to disk and renames it to `path`; also flushes the directory so the
    /// new name survives a crash. On failure the temporary file is deleted.
    package func commit() throws {
        precondition(!done, "AtomicOutputFile.commit() called twice")
        try fail {
            try SystemCalls.fsync(fd, temporaryPath)
            SystemCalls.close(fd)
            fd = -1
            try SystemCalls.rename(temporaryPath, path)
        }
        done = true
        SystemCalls.syncDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Deletes the temporary file. Called automatically when an uncommitted file is dropped.
    package func abandon() {
        if fd >= 0 { SystemCalls.close(fd); fd = -1 }
        if !done { SystemCalls.unlink(temporaryPath) }
        done = true
    }

    /// Runs `body`, abandoning the file if it throws: a failed write never leaves a half file.
    private func fail(_ body: () throws -> Void) throws {
        do { try body() } catch {
            abandon()
            throw error
        }
    }

    /// Removes temporary files that earlier writers of the same output left when their process
    /// was killed (the process id in the name no longer exists).
    private static func removeStaleTemporaries(directory: String, name: String) {
        let prefix = "." + name + ".tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                SystemCalls.unlink(directory + "/" + entry)
            }
        }
    }
}
