@testable import KilnFormats
import KilnCore
import TestSupport
import Testing

/// The pickle machine on hand-assembled pickles: operand decoding, containers, the memo and
/// the limits, without a checkpoint around them.
struct PickleMachineTests {
    static func run(_ bytes: [UInt8], ids: PickleMachine.PersistentIDs = .refused) throws -> (PickleValue, PickleMachine) {
        try bytes.withUnsafeBytes { raw in
            var machine = PickleMachine(raw, baseOffset: 100, source: "test", persistentIDs: ids)
            let value = try machine.run()
            return (value, machine)
        }
    }

    @Test func integersOfEveryWidth() throws {
        #expect(try Self.run([0x80, 2, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x2E]).0 == .int(-2))         // BININT
        #expect(try Self.run([0x80, 2, 0x4D, 0x34, 0x12, 0x2E]).0 == .int(0x1234))                  // BININT2
        #expect(try Self.run([0x80, 2, 0x8A, 0x00, 0x2E]).0 == .int(0))                              // LONG1 empty
        #expect(try Self.run([0x80, 2, 0x8A, 0x01, 0xFF, 0x2E]).0 == .int(-1))                       // LONG1 -1
        #expect(try Self.run([0x80, 2, 0x8A, 0x02, 0x00, 0x80, 0x2E]).0 == .int(-32768))
        // 2^63: nine bytes, not an Int64.
        #expect(try Self.run([0x80, 2, 0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x2E]).0 == .bigInt([0, 0, 0, 0, 0, 0, 0, 0x80, 0]))
        // -1 written with redundant sign bytes is still -1.
        #expect(try Self.run([0x80, 2, 0x8A, 0x0A] + [UInt8](repeating: 0xFF, count: 10) + [0x2E]).0 == .int(-1))
        #expect(try Self.run(Array("I01\n.".utf8)).0 == .bool(true))                                 // protocol 0 INT
        #expect(try Self.run(Array("L-12L\n.".utf8)).0 == .int(-12))
    }

    @Test func binfloatIsBigEndian() throws {
        // 1.5 = 0x3FF8000000000000
        #expect(try Self.run([0x80, 2, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E]).0 == .float(1.5))
    }

    @Test func dictsKeepOrderAndLastValueWins() throws {
        // {'b': 1, 'a': 2, 'b': 3} via EMPTY_DICT MARK ... SETITEMS
        let pickle: [UInt8] = [0x80, 2, 0x7D, 0x28, 0x8C, 1, 0x62, 0x4B, 1, 0x8C, 1, 0x61, 0x4B, 2, 0x8C, 1, 0x62, 0x4B, 3, 0x75, 0x2E]
        let (value, machine) = try Self.run(pickle)
        guard case .container(let index) = value else { Issue.record("not a container"); return }
        #expect(machine.containers[index].keys == [.string("b"), .string("a")])
        #expect(machine.containers[index].items == [.int(3), .int(2)])
    }

    @Test func memoSharesContainers() throws {
        // l = []; BINPUT 0; (l, l) via BINGET; then APPEND to l through the memo
        let pickle: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x86, 0x68, 0, 0x4B, 7, 0x61, 0x30, 0x2E]
        let (value, machine) = try Self.run(pickle)
        guard case .container(let tuple) = value, case .container(let list) = machine.containers[tuple].items[0] else {
            Issue.record("unexpected shape"); return
        }
        #expect(machine.containers[tuple].items == [.container(list), .container(list)])
        #expect(machine.containers[list].items == [.int(7)])
    }

    @Test func refusalsNameTheGlobalAndOffset() throws {
        do {
            _ = try Self.run([0x80, 2] + Array("cposix\nsystem\n.".utf8))
            Issue.record("accepted")
        } catch let error as KilnError {
            #expect(error.description.contains("refusing to load global 'posix.system' (GLOBAL at byte 102)"))
            #expect(error.offset == 102 && error.kind == .unsupported)
        }
        // An allow-listed class is still refused where it would be instantiated as something else.
        do {
            _ = try Self.run([0x80, 2] + Array("ctorch._utils\n_rebuild_tensor_v2\n)".utf8) + [0x81, 0x2E])
            Issue.record("accepted")
        } catch let error as KilnError {
            #expect(error.description.contains("refusing to load global 'torch._utils._rebuild_tensor_v2' (NEWOBJ"), "\(error)")
        }
        // Persistent ids outside a checkpoint.
        #expect(throws: KilnError.self) { try Self.run([0x80, 2, 0x4E, 0x51, 0x2E]) }
    }

    @Test func limitsHold() throws {
        // A length beyond the pickle, a key that is not hashable, BUILD on a list.
        #expect(throws: KilnError.self) { try Self.run([0x80, 2, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]) }
        #expect(throws: KilnError.self) { try Self.run([0x80, 2, 0x7D, 0x5D, 0x4E, 0x73, 0x2E]) }
        #expect(throws: KilnError.self) { try Self.run([0x80, 2, 0x5D, 0x7D, 0x62, 0x2E]) }
        #expect(throws: KilnError.self) { try Self.run([0x80, 6, 0x4E, 0x2E]) }                 // protocol 6
        #expect(throws: KilnError.self) { try Self.run([0x80, 2, 0x4E]) }                       // no STOP
        // 100,000 nested tuples build fine (no recursion) and are only refused when walked.
        let deep = [0x80, 2, 0x4E] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E]
        let (root, machine) = try Self.run(deep)
        #expect(throws: KilnError.self) { try TorchObjectTree(root: root, machine: machine) }
    }
}
