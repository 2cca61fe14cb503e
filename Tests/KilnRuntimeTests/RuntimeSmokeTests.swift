import KilnRuntime
import Testing

struct RuntimeSmokeTests {
    @Test func moduleLoads() {
        #expect(ElementType.registry.count > 0)
    }
}
