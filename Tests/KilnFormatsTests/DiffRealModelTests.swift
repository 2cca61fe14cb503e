import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// The real SmolLM2-135M-Instruct Q4_1 GGUF against its own `.kiln` conversion: every tensor
/// identical, nothing else different; two `.kiln` files compared by checksum alone.
struct DiffRealModelTests {
    @Test(.enabled(if: !GGUFTests.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2AgainstItsKilnConversion() throws {
        guard let path = GGUFTests.requireRealModel() else { return }
        let directory = TemporaryDirectory()
        let raw = directory.file("raw.kiln"), compressed = directory.file("zstd.kiln")
        let interleaved = directory.file("interleaved.kiln")
        _ = try Conversion.toKiln(try FormatRegistry.open(path), output: raw, options: .init(layout: .rowMajor))
        _ = try Conversion.toKiln(try FormatRegistry.open(path), output: compressed, options: .init(storage: .zstd(level: 1), layout: .rowMajor))
        _ = try Conversion.toKiln(try FormatRegistry.open(path), output: interleaved)
        let tensorCount = try GGUFFile(path: path).sourceTensors.count

        let report = try ModelDiff.compare(path, raw)
        #expect(report.tensors.count == tensorCount)
        #expect(report.identicalCount == tensorCount, "\(report.tensors.filter { $0.status != .identical }.map(\.name))")
        #expect(report.tensors.allSatisfy { $0.method == .bytes && !$0.typeChanged })
        #expect(report.onlyInA.isEmpty && report.onlyInB.isEmpty)
        #expect(report.metadata.isEmpty, "\(report.metadata.map { "\($0.key): \($0.a ?? "-") → \($0.b ?? "-")" })")
        #expect(!report.isDifferent(failOn: .any))
        #expect(report.checksumShortcuts == 0)

        // The default conversion regroups the matrices' blocks for the kernels: the same values,
        // only the types' layouts change.
        let regrouped = try ModelDiff.compare(path, interleaved)
        #expect(regrouped.identicalCount == tensorCount, "\(regrouped.tensors.filter { $0.status != .identical }.map(\.name))")
        #expect(regrouped.tensors.filter(\.typeChanged).count == 211)
        #expect(!regrouped.isDifferent(failOn: .any))

        // Two .kiln files (one raw, one compressed): equal checksums settle every tensor
        // without reading or decompressing any data.
        let kilnPair = try ModelDiff.compare(raw, compressed)
        #expect(kilnPair.checksumShortcuts == tensorCount)
        #expect(kilnPair.bytesCompared == 0)
        #expect(kilnPair.tensors.allSatisfy { $0.status == .identical && $0.method == .checksum })
        #expect(!kilnPair.isDifferent(failOn: .any), "\(kilnPair.metadata.map(\.key))")

        // Without the shortcut the bytes are read (and decompressed) and agree.
        let read = try ModelDiff.compare(raw, compressed, options: .init(tensorPatterns: ["blk.0.*"], useChecksums: false))
        #expect(read.checksumShortcuts == 0 && read.tensors.count == 9 && read.identicalCount == 9 && read.bytesCompared > 0)
    }

    /// Dequantised Q4_1 against a requantised copy: values compared through dequantisation,
    /// statistics equal those of `TensorComparison` over the two dequantised arrays, the way a
    /// quantiser reports them.
    @Test(.enabled(if: !GGUFTests.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func quantisedTensorsCompareThroughDequantisation() throws {
        guard let path = GGUFTests.requireRealModel() else { return }
        let source = try GGUFFile(path: path)
        let name = "blk.0.attn_q.weight"
        let tensor = try #require(source.sourceTensors.first { $0.name == name })
        #expect(tensor.type == .q4_1)
        let original = try tensor.type.dequantize(try source.data(tensor).bytes, elementCount: tensor.elementCount)
        // A "requantised" copy: the same values stored as f16 (rounded), in a .kiln file.
        let directory = TemporaryDirectory()
        let output = directory.file("f16.kiln")
        let writer = try KilnWriter(path: output)
        let halves = original.map(HalfPrecision.halfFromFloat)
        try halves.withUnsafeBytes { _ = try writer.add(name: name, type: .f16, shape: tensor.shape, bytes: $0) }
        try writer.finish()

        let report = try ModelDiff.compare(try CanonicalModel.open(path), try CanonicalModel.open(output),
                                           options: .init(tensorPatterns: [name]))
        let row = try #require(report.tensors.first)
        #expect(row.a.type == .q4_1 && row.b.type == .f16 && row.method == .values)
        let direct = TensorComparison.compare(original, halves.map(HalfPrecision.floatFromHalf))
        let c = try #require(row.comparison)
        #expect(c.elements == direct.elements && c.maxAbs == direct.maxAbs && c.beyondTolerance == direct.beyondTolerance)
        for (x, y) in [(c.rmse, direct.rmse), (c.cosine, direct.cosine), (c.snrDB, direct.snrDB), (c.relativeRMSE, direct.relativeRMSE)] {
            #expect(abs(x - y) <= 1e-12 * abs(y), "\(x) vs \(y)")
        }
    }
}
