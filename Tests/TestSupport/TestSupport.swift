import Foundation
import KilnCore

/// Paths into the repository, found from this file's location (no resource copying needed).
public enum Repository {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func fixture(_ relative: String) -> String {
        root.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    public static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// A built executable of this package (`kiln`, `kiln-run`), next to the test bundle.
    public static func executable(_ name: String) -> String {
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/\(name)").path
    }
}

/// A fresh directory under the system's temporary directory, removed when dropped.
public final class TemporaryDirectory {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "kiln-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A small, fast, seedable generator (SplitMix64) so property tests are reproducible.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

public func bytesFromHex(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var iterator = hex.utf8.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        out.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)!)
    }
    return out
}

public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

public func readJSON(_ path: String) throws -> JSONValue {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try data.withUnsafeBytes { try JSONValue.parse($0) }
}

/// Runs a program to completion and captures its output.
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
    throws -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Finds python3 on PATH.
public func python3() -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let candidate = "\(directory)/python3"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

public func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

public func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Whether python3 can import every module in `modules` (the test requirements that
/// Tools/install-deps.sh installs from Tools/requirements-test.txt).
public func pythonCanImport(_ modules: [String]) -> Bool {
    guard let python = python3() else { return false }
    return (try? run(python, ["-c", "import " + modules.joined(separator: ", ")]))?.status == 0
}

/// Runs one of the Python checkers in Tools/ (check_gguf.py, check_safetensors.py).
public func runPythonCheck(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let result = try run(python3() ?? "/usr/bin/python3", [Repository.path("Tools/\(script)")] + arguments)
    return (result.status, result.stdout + result.stderr)
}

/// The real test model (Tools/fetch-smollm2.sh), shared by the suites that use it.
public enum RealModel {
    public static let path = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
    public static let skip = ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] == "1"
    public static var isPresent: Bool { FileManager.default.fileExists(atPath: path) }
    public static let missingMessage = "\(path) is missing: run Tools/fetch-smollm2.sh (or set KILN_SKIP_REAL_MODEL=1 to skip)"
}

/// Set by Tools/sanitize.sh (`address`, `thread`): tests that limit the address space with
/// `ulimit -v` or measure peak RSS cannot run under a sanitizer, whose shadow memory reserves
/// terabytes of address space and multiplies resident memory.
public enum Sanitizer {
    public static let name = ProcessInfo.processInfo.environment["KILN_SANITIZER"]
    public static var isActive: Bool { name != nil }
}
