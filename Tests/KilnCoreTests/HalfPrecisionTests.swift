import KilnCore
import TestSupport
import Testing

/// The bit-level f16/bf16 conversions against independent references: the compiler's
/// `Float16` (where the platform has it) and bf16 values made by the fixture script.
struct HalfPrecisionTests {
    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func everyHalfDecodesLikeFloat16() {
        for bits in 0...UInt16.max {
            let ours = HalfPrecision.floatFromHalf(bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                #expect(ours.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                #expect(ours.bitPattern == reference.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
    }

    @Test func floatsRoundToHalfLikeFloat16() {
        var random = SeededRandom(seed: 11)
        var samples: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 6.1035156e-05, 5.9604645e-08, 2.9802322e-08,
                                2.9802326e-08, 1e-10, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        // Random bit patterns cover every exponent; scaled ones concentrate on the half range.
        for _ in 0..<200_000 { samples.append(Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))) }
        for _ in 0..<200_000 { samples.append(Float.random(in: -70000...70000, using: &random) * (random.next() % 2 == 0 ? 1 : 1e-4)) }
        for value in samples where !value.isNaN {
            #expect(HalfPrecision.halfFromFloat(value) == Float16(value).bitPattern, "\(value) (0x\(String(value.bitPattern, radix: 16)))")
        }
        #expect(HalfPrecision.floatFromHalf(HalfPrecision.halfFromFloat(.nan)).isNaN)
    }
    #endif

    /// bf16 rounding of the fixture's f32 sources equals the bits the script computed
    /// with exact arithmetic; decoding equals the f32 values it stored.
    @Test func bfloatMatchesFixture() throws {
        let expected = try readJSON(Repository.fixture("safetensors/bf16.expected.json"))
        let tensors = try #require(expected["tensors"]?.objectValue)
        var checked = 0
        for (name, tensor) in tensors where name.hasPrefix("bf16_") {
            let suffix = String(name.dropFirst("bf16_".count))
            let bf16 = bytesFromHex(try #require(tensor["hex"]?.stringValue))
            guard let source = tensors["f32src_" + suffix]?["hex"]?.stringValue,
                  let decoded = tensors["f32dec_" + suffix]?["hex"]?.stringValue else { continue }
            let sourceFloats = floats(bytesFromHex(source))
            let decodedFloats = floats(bytesFromHex(decoded))
            for i in 0..<sourceFloats.count {
                let bits = UInt16(bf16[2 * i]) | UInt16(bf16[2 * i + 1]) << 8
                if sourceFloats[i].isNaN {
                    #expect(HalfPrecision.floatFromBFloat(HalfPrecision.bfloatFromFloat(sourceFloats[i])).isNaN)
                } else {
                    #expect(HalfPrecision.bfloatFromFloat(sourceFloats[i]) == bits, "\(name)[\(i)]")
                }
                #expect(HalfPrecision.floatFromBFloat(bits).bitPattern == decodedFloats[i].bitPattern, "\(name)[\(i)]")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    private func floats(_ bytes: [UInt8]) -> [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}
