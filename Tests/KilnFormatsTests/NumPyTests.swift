import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// `.npy` and `.npz` files written by numpy; expected values from `numpy.load`.
struct NumPyTests {
    static let fixtures = [
        "v1_f32.npy", "v2_i64.npy", "v3_f16.npy", "fortran_f64.npy", "big_endian_f32.npy", "big_endian_i16_fortran.npy",
        "bool.npy", "scalar_u64.npy", "empty_u8.npy", "stored.npz", "deflated.npz",
    ]

    static func open(_ fixture: String) throws -> any CheckpointReader {
        try FormatRegistry.open(Repository.fixture("numpy/\(fixture)"))
    }

    @Test(arguments: fixtures)
    func everyArrayMatchesNumPy(_ fixture: String) throws {
        let reader = try Self.open(fixture)
        #expect(reader.formatName == "numpy")
        try FixtureChecks.matchesExpected(reader, Repository.fixture("numpy/\(fixture).expected.json"))
    }

    @Test(arguments: fixtures)
    func convertsBitExact(_ fixture: String) throws {
        try FixtureChecks.convertsIdentically(try Self.open(fixture), Repository.fixture("numpy/\(fixture).expected.json"))
    }

    /// C-order little-endian arrays are views into the mapping; Fortran-order and big-endian
    /// ones, and every member of a deflated archive, live in memory of their own.
    @Test func onlyPlainStoredArraysAreViews() throws {
        for fixture in ["v1_f32.npy", "fortran_f64.npy", "big_endian_f32.npy", "stored.npz", "deflated.npz"] {
            let reader = try #require(try Self.open(fixture) as? NumPyFile)
            let expected = try #require(try readJSON(Repository.fixture("numpy/\(fixture).expected.json"))["tensors"]?.objectValue)
            for tensor in reader.sourceTensors where tensor.byteCount > 0 {
                let descr = expected[tensor.name]?["descr"]?.stringValue ?? ""
                let fortran = expected[tensor.name]?["fortran_order"]?.boolValue ?? false
                let plain = !descr.hasPrefix(">") && !(fortran && tensor.shape.count > 1) && fixture != "deflated.npz"
                #expect(FixtureChecks.isView(try reader.data(tensor), of: reader.mapping) == plain, "\(fixture) \(tensor.name)")
            }
        }
    }

    @Test func archivesHoldStoredAndDeflatedMembers() throws {
        #expect(try readJSON(Repository.fixture("numpy/stored.npz.expected.json"))["zip_methods"] == .array([.int(0)]))
        #expect(try readJSON(Repository.fixture("numpy/deflated.npz.expected.json"))["zip_methods"] == .array([.int(8)]))
        let reader = try Self.open("deflated.npz")
        #expect(reader.sourceTensors.map(\.name).contains("nested/name"))
        #expect(reader.metadata["numpy.big.descr"] == .string(">u4"))
    }

    static let malformed: [(String, String)] = [
        ("truncated.npy", "truncated: shape [2, 3] of <f4 needs 24 data bytes but 19 follow the header"),
        ("extra_bytes.npy", "(4 extra)"),
        ("header_past_end.npy", "the header claims 65545 bytes"),
        ("object_dtype.npy", "object array"),
        ("complex_dtype.npy", "dtype '<c8' is not supported"),
        ("structured_utf8_fields.npy", "structured (record) arrays"),
        ("code_in_header.npy", "not a literal Kiln reads"),
        ("shape_overflow.npy", "overflows"),
        ("version_4.npy", ".npy version 4.0 is not supported"),
        ("bomb_claim.npz", "more than deflate can expand"),
        ("size_mismatch.npz", "(4 extra)"),
        ("truncated.npz", "no ZIP end-of-central-directory record"),
        ("not_npy_member.npz", "member is not an .npy array"),
        ("encrypted.npz", "encrypted"),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejected(_ name: String, _ expected: String) {
        FixtureChecks.rejects(Repository.fixture("malformed/numpy/\(name)"), expected) { try FormatRegistry.open($0, format: "numpy") }
    }

    /// A deflated member is inflated only when its tensor is read: a bad CRC is found then.
    @Test func badChecksumIsFoundWhenTheTensorIsRead() throws {
        let path = Repository.fixture("malformed/numpy/bad_crc.npz")
        let reader = try FormatRegistry.open(path)
        let first = try #require(reader.sourceTensors.first { $0.name == "a" })
        do {
            _ = try reader.data(first)
            Issue.record("bad CRC accepted")
        } catch let error as KilnError {
            #expect(error.kind == .checksum)
            #expect(error.file == path && error.description.contains("zip member 'a.npy'"), "\(error)")
        }
    }

    @Test(arguments: ["v1_f32.npy", "big_endian_i16_fortran.npy", "stored.npz", "deflated.npz"])
    func mutatedFilesNeverCrash(_ fixture: String) throws {
        try FixtureChecks.survivesMutation(Repository.fixture("numpy/\(fixture)"), name: fixture, region: Int.max,
                                           iterations: 800, seed: 11) { try FormatRegistry.open($0, format: "numpy") }
    }

    @Test(arguments: ["v1_f32.npy", "stored.npz", "deflated.npz"])
    func everyTruncationIsRejected(_ fixture: String) throws {
        try FixtureChecks.survivesTruncation(Repository.fixture("numpy/\(fixture)"), name: fixture, step: 7) {
            try FormatRegistry.open($0, format: "numpy")
        }
    }
}
