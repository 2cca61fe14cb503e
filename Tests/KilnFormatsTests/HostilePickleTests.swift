import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// Pickles that would run code if loaded by `pickle.load` (or `torch.load(weights_only=False)`),
/// each as a real torch.save checkpoint and as a bare pickle: Kiln refuses each one, naming the
/// global, and the file the payload would have written never appears.
struct HostilePickleTests {
    static let payloads: [(String, String)] = [
        ("os_system", "posix.system"),
        // Protocol 2 writes Python 2 module names (pickle's fix_imports).
        ("subprocess_popen", "commands.Popen' (Python 3: subprocess.Popen)"),
        ("builtins_eval", "__builtin__.eval' (Python 3: builtins.eval)"),
        ("builtins_exec", "__builtin__.exec' (Python 3: builtins.exec)"),
        ("shutil_copyfile", "shutil.copyfile"),
        ("webbrowser_open", "webbrowser.open"),
        ("nested_pickle", "pickle.loads"),
        ("custom_class", "__main__.Payload"),
    ]

    static func marker(_ name: String) -> String { "/tmp/kiln-pwned-\(name)" }

    @Test(arguments: payloads, ["pt", "pkl"])
    func hostileGlobalsAreRefused(_ payload: (String, String), _ suffix: String) throws {
        let (name, global) = payload
        let path = Repository.fixture("malformed/pytorch/hostile_\(name).\(suffix)")
        try? FileManager.default.removeItem(atPath: Self.marker(name))
        do {
            _ = try FormatRegistry.open(path)
            Issue.record("\(path) was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains("refusing to load global '\(global)" + (global.hasSuffix(")") ? "" : "'")), "\(error)")
            #expect(error.description.contains("never imports or runs code"), "\(error)")
            #expect(error.file == path)
            #expect(error.offset != nil, "the error gives the byte offset")
        }
        #expect(!FileManager.default.fileExists(atPath: Self.marker(name)), "the payload did not run")
    }

    @Test func stackGlobalAndExtensionOpcodesAreRefused() throws {
        FixtureChecks.rejects(Repository.fixture("malformed/pytorch/hostile_stack_global.pkl"),
                              "refusing to load global 'posix.system' (STACK_GLOBAL") { try FormatRegistry.open($0) }
        FixtureChecks.rejects(Repository.fixture("malformed/pytorch/hostile_nested_pickle_p4.pkl"),
                              "refusing to load global '_pickle.loads' (STACK_GLOBAL") { try FormatRegistry.open($0) }
        FixtureChecks.rejects(Repository.fixture("malformed/pytorch/hostile_ext1.pkl"),
                              "refusing extension-registry global #1") { try FormatRegistry.open($0) }
        #expect(!FileManager.default.fileExists(atPath: Self.marker("os_system")))
        #expect(!FileManager.default.fileExists(atPath: Self.marker("nested_pickle")))
    }

    /// A harmless bare pickle is still not a checkpoint: it has no tensor data.
    @Test func harmlessBarePickleHasNoTensors() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("plain.pkl")
        // pickle.dumps({'a': [1, 2.5, 'x']}, protocol=2)
        try writeFile(path, [0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x5D, 0x71, 0x02,
                             0x28, 0x4B, 0x01, 0x47, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x01, 0x00, 0x00,
                             0x00, 0x78, 0x71, 0x03, 0x65, 0x73, 0x2E])
        FixtureChecks.rejects(path, "a plain pickle without tensor data") { try FormatRegistry.open($0) }
    }
}
