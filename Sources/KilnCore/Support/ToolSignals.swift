#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Signal dispositions the command-line tools want and a library should not impose.
public enum ToolSignals {
    /// For `kiln` and `kiln-run`, before any work:
    /// - a read from a mapped input that was truncated under it exits 2 with a message naming the
    ///   file and offset, instead of dying of SIGBUS (`MappedFile.guardAgainstTruncation`);
    /// - writing past the file-size limit (`ulimit -f`, RLIMIT_FSIZE) fails the `write` with
    ///   EFBIG, which the writers report and clean up after, instead of SIGXFSZ killing the
    ///   process with its temporary file left behind.
    public static func install(program: String) {
        MappedFile.guardAgainstTruncation(program: program)
        signal(SIGXFSZ, SIG_IGN)
    }
}
