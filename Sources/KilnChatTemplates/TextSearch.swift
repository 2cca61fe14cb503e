#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Substring search for `in`, `find`, `count`, `split` and `replace`, on UTF-8 bytes (a UTF-8
/// match is exactly a code-point match). `memchr` finds candidates and `memcmp` checks them;
/// every byte examined is charged to the work budget as the search goes, so a pathological
/// search (`'aaa…a' in 'aaaa…'`) stops at the limit instead of running for hours.
extension Interpreter {
    /// Byte offsets of non-overlapping occurrences, from the left, at most `limit` of them.
    func occurrences(of needle: String, in haystack: String, limit: Int = .max) throws -> [Int] {
        guard limit > 0 else { return [] }
        var haystackCopy = haystack
        var needleCopy = needle
        return try haystackCopy.withUTF8 { h in
            try needleCopy.withUTF8 { n in
                var found: [Int] = []
                guard !n.isEmpty else {
                    // Python: the empty string occurs before every character and at the end.
                    var i = 0
                    while i <= h.count, found.count < limit {
                        found.append(i)
                        i += 1
                        while i < h.count, h[i] & 0xC0 == 0x80 { i += 1 }
                    }
                    return found
                }
                var position = 0
                var cost = 0
                while position + n.count <= h.count, found.count < limit {
                    let remaining = h.count - n.count + 1 - position
                    guard let hit = memchr(h.baseAddress! + position, Int32(n[0]), remaining) else {
                        cost += remaining
                        break
                    }
                    let candidate = h.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    cost += candidate - position + n.count
                    if cost > 1 << 20 {
                        try charge(work: cost)
                        cost = 0
                    }
                    if memcmp(h.baseAddress! + candidate, n.baseAddress!, n.count) == 0 {
                        found.append(candidate)
                        position = candidate + n.count
                    } else {
                        position = candidate + 1
                    }
                }
                try charge(work: cost)
                return found
            }
        }
    }

    func contains(_ needle: String, in haystack: String) throws -> Bool {
        try !occurrences(of: needle, in: haystack, limit: 1).isEmpty
    }

    /// `str.find`: the code-point index of the first occurrence, or nil.
    func find(_ needle: String, in haystack: String) throws -> Int? {
        guard let byte = try occurrences(of: needle, in: haystack, limit: 1).first else { return nil }
        return haystack.utf8.prefix(byte).reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }

    /// `str.split(sep, maxsplit)` with a separator.
    func split(_ s: String, separator: String, maxSplit: Int) throws -> [String] {
        guard !separator.isEmpty else { throw RenderFailure.value("empty separator") }
        let hits = try occurrences(of: separator, in: s, limit: maxSplit < 0 ? .max : maxSplit)
        let bytes = Array(s.utf8)
        var parts: [String] = []
        var start = 0
        for hit in hits {
            parts.append(String(decoding: bytes[start..<hit], as: UTF8.self))
            start = hit + separator.utf8.count
        }
        parts.append(String(decoding: bytes[start...], as: UTF8.self))
        return parts
    }

    /// `str.replace(old, new, count)`, with the result size checked before it is built.
    func replace(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
        let hits = try occurrences(of: old, in: s, limit: count < 0 ? .max : count)
        let (growth, overflow1) = hits.count.multipliedReportingOverflow(by: max(0, new.utf8.count - old.utf8.count))
        let (size, overflow2) = s.utf8.count.addingReportingOverflow(growth)
        try charge(bytes: overflow1 || overflow2 ? .max : size)
        guard !hits.isEmpty else { return s }
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var start = 0
        for hit in hits {
            out.append(contentsOf: bytes[start..<hit])
            out.append(contentsOf: new.utf8)
            start = hit + old.utf8.count
        }
        out.append(contentsOf: bytes[start...])
        return String(decoding: out, as: UTF8.self)
    }
}
