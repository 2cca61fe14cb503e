import KilnCore
import Testing

struct JSONTests {
    @Test func parsesAndKeepsIntegerPrecision() throws {
        let value = try JSONValue.parse(#"{"a": [1, -2, 18446744073709551615, 9223372036854775807, 1.5e3, true, null, "x\u00e9\ud83d\udd25\n"], "b": {}}"#)
        #expect(value["a"]?.arrayValue == [.int(1), .int(-2), .uint(.max), .int(.max), .double(1500), .bool(true), .null, .string("xé🔥\n")])
        #expect(value["b"] == .object([:]))
    }

    @Test(arguments: [
        #"{"a": 1, "a": 2}"#, "[1,]", "{", "01", "[1] x", "\"\u{01}\"", #""\ud800""#, "-", "1.", "tru", String(repeating: "[", count: 100),
    ])
    func rejects(_ text: String) {
        #expect(throws: KilnError.self) { try JSONValue.parse(text) }
    }

    @Test func serialisesAndParsesBack() throws {
        let value: JSONValue = .object(["s": .string("q\"\\\n\u{1}"), "n": .array([.int(-1), .uint(.max), .double(0.25), .null, .bool(false)])])
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(try JSONValue.parse(value.serialized(pretty: true)) == value)
    }
}
