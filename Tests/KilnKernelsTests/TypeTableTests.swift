import CKilnKernels
import KilnCore
import KilnKernels
import Testing

/// The two type tables — Swift's `ElementType.registry` and C's `kiln_weight_types` — describe
/// each kernel type identically, and every type either side lists is found by the other.
struct TypeTableTests {
    @Test func cTableMatchesTheRegistry() throws {
        var named: [String] = []
        for code in 0..<Int32(KILN_WEIGHT_COUNT) {
            let traits = try #require(kiln_weight_type(code)).pointee
            let name = String(cString: traits.name)
            named.append(name)
            let type = try #require(ElementType.named(name), "C type \(code) '\(name)' is not in the registry")
            #expect(Int(traits.block_values) == type.blockElements, "\(name)")
            #expect(Int(traits.block_bytes) == type.blockBytes, "\(name)")
            #expect(Int(traits.group_rows) == (type.interleaving?.rows ?? 1), "\(name)")
        }
        #expect(kiln_weight_type(-1) == nil && kiln_weight_type(Int32(KILN_WEIGHT_COUNT)) == nil)
        #expect(Set(named).count == named.count, "a name appears twice in the C table")
        #expect(WeightMatrix.kernelTypes.map(\.name).sorted() == named.sorted())
    }

    /// Every interleaved layout has a kernel, and so does its row-major base type: the converter
    /// only writes layouts the runtime can run fast.
    @Test func interleavedLayoutsHaveKernels() {
        let kernels = Set(WeightMatrix.kernelTypes.map(\.name))
        for type in ElementType.registry where type.interleaving != nil {
            #expect(kernels.contains(type.name) && kernels.contains(type.interleaving!.base.name), "\(type.name)")
        }
    }
}
