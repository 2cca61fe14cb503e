import Foundation
import KilnCore
import TestSupport

/// `kiln-run serve` on the real model as a child process on a free loopback port (the release
/// binary, as the other end-to-end tests run it), and a small HTTP client over curl, which
/// shows status lines and headers exactly as sent.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var log = ""
    private(set) var baseURL = ""

    init(_ arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: SmolLM2Tests.kilnRun)
        process.arguments = ["serve", SmolLM2Tests.model, "--port", "0"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock(); self.log += String(decoding: data, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let range = output.range(of: "http://127.0.0.1:") {
                let port = output[range.upperBound...].prefix { $0.isNumber }
                baseURL = "http://127.0.0.1:\(port)"
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw ServerError(message: "kiln-run serve did not start: \(output)")
    }

    struct ServerError: Error { let message: String }

    var output: String { lock.lock(); defer { lock.unlock() }; return log }

    /// SIGTERM, then the exit status.
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: JSONValue? { try? JSONValue.parse(body) }
    }

    /// One request; `body` is sent as given (JSON or not). Extra curl arguments after.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String] = [], curl extra: [String] = []) throws -> Reply {
        var arguments = ["-s", "-i", "-X", method, "-H", "Expect:", baseURL + path]
        for header in headers { arguments += ["-H", header] }
        let directory = TemporaryDirectory()
        if let body {
            let file = directory.file("body")
            try Data(body.utf8).write(to: URL(fileURLWithPath: file))
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@" + file]
        }
        let result = try run("/usr/bin/curl", arguments + extra)
        return Self.parse(result.stdout)
    }

    func post(_ path: String, _ json: JSONValue, headers: [String] = []) throws -> Reply {
        try request("POST", path, body: json.serialized(), headers: headers)
    }

    static func parse(_ raw: String) -> Reply {
        guard let split = raw.range(of: "\r\n\r\n") else { return Reply(status: 0, headers: [:], body: raw) }
        let head = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Reply(status: status, headers: headers, body: String(raw[split.upperBound...]))
    }

    /// The `data:` payloads of a server-sent-events body, in order.
    static func events(_ body: String) -> [String] {
        body.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }
}

extension JSONValue {
    /// Array element, nil when out of range or not an array (for `json["choices"]?[0]`).
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}
