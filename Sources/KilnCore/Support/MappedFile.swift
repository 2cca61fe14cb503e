#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CKilnSupport

/// A whole file mapped read-only into memory. Mapping costs no reads: pages are faulted in
/// as they are touched, and shared with the page cache, so opening is independent of size.
public final class MappedFile: @unchecked Sendable {
    // Sendable: the mapping is read-only and never changes after init; it is unmapped in deinit.
    /// The path the file was opened with.
    public let path: String
    /// The whole file, read-only. Valid as long as this object lives: keep the `MappedFile`
    /// (or an object holding it, such as a ``TensorData``'s owner) alive while using any
    /// pointer into it. An empty file maps to an empty buffer with no base address.
    public let bytes: UnsafeRawBufferPointer
    /// This mapping's entry in the SIGBUS guard (see `MappedFile.guardAgainstTruncation`).
    private var guardSlot: Int32 = -1

    /// Maps the file at `path`.
    ///
    /// - Throws: ``KilnError`` (`.io`) naming the path and the system's reason when the file
    ///   cannot be opened, measured or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = try SystemCalls.open(path, O_RDONLY)
        defer { SystemCalls.close(fd) }
        let size = try SystemCalls.fileSize(fd, path)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw SystemCalls.fail("mmap", path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        guardSlot = kiln_mapping_guard_add(address, size, path)
    }

    /// Makes a read from a mapping whose file shrank under it (another process truncated it, or
    /// the disk failed) end the program with `program: error: PATH: byte N: …` and exit status 2
    /// instead of dying of SIGBUS. The tools call this at start; a library user who prefers
    /// their own SIGBUS handling does not. Pages are otherwise touched without checks, so this is
    /// the only way to make the race between `fstat` and a read safe.
    public static func guardAgainstTruncation(program: String) {
        _ = kiln_mapping_guard_install(program)
    }

    /// The file's size in bytes.
    public var count: Int { bytes.count }

    /// Tells the kernel how a byte range will be used (sequential streaming, random access, or
    /// "needed soon"). Advice only: failures are ignored.
    package func advise(_ advice: Advice, range: Range<Int>? = nil) {
        guard let base = bytes.baseAddress else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let r = range ?? 0..<count
        let start = r.lowerBound & ~(pageSize - 1)
        let length = r.upperBound - start
        guard length > 0 else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), length, advice.rawValue)
    }

    /// Gives back this process's copies of the pages holding `range` (bytes of the file), so a
    /// reader streaming through files larger than memory keeps its resident size bounded. The
    /// data stays in the page cache and is faulted in again if touched. The range is rounded
    /// outwards to whole pages: the mapping is read-only and never written, so dropping a
    /// neighbour's page (even while another thread reads it) costs at most a re-fault, and
    /// rounding inwards would leave a page resident at every boundary of a chunked scan.
    package func release(_ range: Range<Int>) {
        guard let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= count, !range.isEmpty else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let address = Int(bitPattern: base)
        // mmap returns a page-aligned base, so the rounded range stays inside the mapping.
        let start = (address + range.lowerBound) & ~(pageSize - 1)
        let end = min((address + range.upperBound + pageSize - 1) & ~(pageSize - 1), address + count)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }

    /// `release` for a view into this mapping; does nothing for memory outside it.
    package func release(_ view: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, let start = view.baseAddress, start >= base,
              start + view.count <= base + count else { return }
        release((start - base)..<(start - base + view.count))
    }

    package enum Advice {
        /// `dontNeed` drops the range's pages from this process (they stay in the page cache and
        /// are faulted in again if touched): streaming a large file through a mapping would
        /// otherwise keep every page it read resident and counted against the process.
        case sequential, random, willNeed, dontNeed
        var rawValue: Int32 {
            switch self {
            case .sequential: return MADV_SEQUENTIAL
            case .random: return MADV_RANDOM
            case .willNeed: return MADV_WILLNEED
            case .dontNeed: return MADV_DONTNEED
            }
        }
    }

    deinit {
        kiln_mapping_guard_remove(guardSlot)
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
