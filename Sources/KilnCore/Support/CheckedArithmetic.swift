/// Arithmetic on numbers that came from a file. Every product, sum and narrowing of a
/// file-supplied value goes through these, so an absurd value becomes an error, never a trap.
package enum Checked {
    package static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw KilnError.malformed("\(what()) overflows: \(a) × \(b)") }
        return value
    }

    package static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw KilnError.malformed("\(what()) overflows: \(a) + \(b)") }
        return value
    }

    /// A file's unsigned 64-bit count or offset as an `Int`, rejecting values above `Int.max`.
    package static func int(_ value: UInt64, _ what: @autoclosure () -> String) throws -> Int {
        guard value <= UInt64(Int.max) else {
            throw KilnError.malformed("\(what()) is \(value), larger than this machine can address")
        }
        return Int(value)
    }

    /// Rounds `value` up to a multiple of `alignment` (a power of two).
    package static func alignUp(_ value: Int, to alignment: Int) throws -> Int {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        let sum = try add(value, alignment - 1, "aligned offset")
        return sum & ~(alignment - 1)
    }
}
