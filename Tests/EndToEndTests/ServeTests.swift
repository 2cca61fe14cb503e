import Foundation
import KilnCore
import TestSupport
import Testing

/// `kiln-run serve` on the real model, driven over loopback HTTP. References are independent of
/// the server: `kiln-run generate` and `kiln-run chat` for the text, the server's own
/// tokenizer endpoint for the prompt counts, and the request's own limits for the rest.
@Suite(.serialized) struct ServeTests {
    static let prompts = ["The capital of France is", "Once upon a time, there was a", "def fibonacci(n):"]

    static func requireInputs() throws {
        try SmolLM2Tests.requireInputs()
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "the server tests need curl")
    }

    /// `kiln-run generate`'s greedy text for `prompt`, how many tokens it generated, and the
    /// `finish_reason` that stands for its stop (whether the model ends the text within `tokens`
    /// depends on the numerics, e.g. the KV cache's element type, so the server is held to it).
    static func generate(_ prompt: String, tokens: Int) throws -> (text: String, tokens: Int, finish: String) {
        let result = try run(SmolLM2Tests.kilnRun, [SmolLM2Tests.model, "-p", prompt, "-n", String(tokens), "--temp", "0", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let done = try JSONValue.parse(String(try #require(result.stdout.split(separator: "\n").last)))
        let stop = try #require(done["stop"]?.stringValue)
        return (try #require(done["text"]?.stringValue), try #require(done["ids"]?.arrayValue?.count),
                stop == "endOfSequence" || stop == "stopString" ? "stop" : "length")
    }

    /// Requests at once, each on its own thread (not a pool's, which would run only as many as
    /// there are cores); replies in order.
    static func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> ServerProcess.Reply) -> [ServerProcess.Reply?] {
        final class Box: @unchecked Sendable { var replies: [ServerProcess.Reply?]; let lock = NSLock(); init(_ n: Int) { replies = Array(repeating: nil, count: n) } }
        let box = Box(count), group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread {
                let reply = try? body(index)
                box.lock.lock(); box.replies[index] = reply; box.lock.unlock()
                group.leave()
            }.start()
        }
        group.wait()
        return box.replies
    }

    static func completion(_ prompt: String, tokens: Int, stream: Bool = false) -> JSONValue {
        .object(["prompt": .string(prompt), "max_tokens": .int(Int64(tokens)), "temperature": .int(0), "stream": .bool(stream),
                 "stream_options": stream ? .object(["include_usage": .bool(true)]) : .null])
    }

    /// Concatenated text pieces and the usage of a streamed completion or chat; `[DONE]` last.
    static func streamed(_ reply: ServerProcess.Reply, chat: Bool) throws -> (text: String, usage: JSONValue?, finish: String?) {
        let events = ServerProcess.events(reply.body)
        #expect(events.last == "[DONE]")
        #expect(events.filter { $0 == "[DONE]" }.count == 1)
        var text = "", usage: JSONValue?, finish: String?
        for event in events.dropLast() {
            let chunk = try JSONValue.parse(event)
            if let u = chunk["usage"], !u.isNull { usage = u }
            guard let choice = chunk["choices"]?.arrayValue?.first else { continue }
            text += (chat ? choice["delta"]?["content"]?.stringValue : choice["text"]?.stringValue) ?? ""
            if let f = choice["finish_reason"]?.stringValue { finish = f }
        }
        return (text, usage, finish)
    }

    /// Greedy completions decoded side by side (one streamed) equal `kiln-run generate` for each
    /// prompt; streamed pieces concatenate to the whole text; usage counts the prompt's tokens
    /// (as /tokenize counts them) and the tokens generated.
    @Test(.disabled(if: SmolLM2Tests.skip)) func concurrentGreedyCompletionsMatchGenerate() throws {
        try Self.requireInputs()
        let tokens = 24
        let expected = try Self.prompts.map { try Self.generate($0, tokens: tokens) }
        let server = try ServerProcess(["--parallel", "4"])
        let replies = Self.concurrently(2 * Self.prompts.count) { index in
            try server.post("/v1/completions", Self.completion(Self.prompts[index % Self.prompts.count], tokens: tokens, stream: index >= Self.prompts.count))
        }
        for (index, reply) in replies.enumerated() {
            let prompt = Self.prompts[index % Self.prompts.count], generated = expected[index % Self.prompts.count]
            let reply = try #require(reply)
            #expect(reply.status == 200, "\(reply.body)")
            let promptTokens = try #require(try server.post("/tokenize", .object(["content": .string(prompt), "add_special": .bool(true)]))
                .json?["tokens"]?.arrayValue?.count)
            let text: String, usage: JSONValue?
            if index >= Self.prompts.count {
                let stream = try Self.streamed(reply, chat: false)
                (text, usage) = (stream.text, stream.usage)
                #expect(stream.finish == generated.finish)
            } else {
                let json = try #require(reply.json)
                text = json["choices"]?[0]?["text"]?.stringValue ?? ""
                usage = json["usage"]
                #expect(json["object"]?.stringValue == "text_completion")
                #expect(json["choices"]?[0]?["finish_reason"]?.stringValue == generated.finish)
            }
            #expect(text == generated.text, "prompt \(prompt.debugDescription)")
            #expect(usage?["prompt_tokens"]?.intValue == promptTokens)
            #expect(usage?["completion_tokens"]?.intValue == generated.tokens)
            #expect(usage?["total_tokens"]?.intValue == promptTokens + generated.tokens)
        }
        #expect(server.stop() == 0)
    }

    /// The chat endpoint renders the model's template as `kiln-run chat` does: the greedy
    /// streamed reply equals the chat command's, and so does the whole one.
    @Test(.disabled(if: SmolLM2Tests.skip)) func greedyChatMatchesKilnRunChat() throws {
        try Self.requireInputs()
        let message = "What is the capital of France?", tokens = 32
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SmolLM2Tests.kilnRun)
        process.arguments = ["chat", SmolLM2Tests.model, "--temp", "0", "-n", String(tokens)]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data((message + "\n").utf8))
        try input.fileHandleForWriting.close()
        let expected = String(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).dropLast())
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && !expected.isEmpty)

        let server = try ServerProcess()
        let request: (Bool) -> JSONValue = { stream in
            .object(["messages": .array([.object(["role": .string("user"), "content": .string(message)])]),
                     "max_tokens": .int(Int64(tokens)), "temperature": .int(0), "stream": .bool(stream)])
        }
        let streamed = try Self.streamed(try server.post("/v1/chat/completions", request(true)), chat: true)
        #expect(streamed.text == expected)
        let whole = try #require(try server.post("/v1/chat/completions", request(false)).json)
        #expect(whole["choices"]?[0]?["message"]?["content"]?.stringValue == expected)
        #expect(whole["object"]?.stringValue == "chat.completion")
        #expect(whole["choices"]?[0]?["finish_reason"]?.stringValue == streamed.finish)
        #expect(server.stop() == 0)
    }

    /// Bad input gets 4xx with OpenAI's error object naming the field; nothing crashes.
    @Test(.disabled(if: SmolLM2Tests.skip)) func badRequestsGetOpenAIErrors() throws {
        try Self.requireInputs()
        let server = try ServerProcess(["--ctx", "64", "--max-body", "4096"])
        let user: JSONValue = .array([.object(["role": .string("user"), "content": .string("hi")])])
        let cases: [(body: String, status: Int, param: String?, code: String?)] = [
            ("{not json", 400, nil, "invalid_json"),
            ("[1, 2]", 400, nil, "invalid_json"),
            (#"{"messages": "hi"}"#, 400, "messages", nil),
            (#"{"messages": []}"#, 400, "messages", nil),
            (#"{"messages": [{"role": "user", "content": 5}]}"#, 400, "messages[0].content", nil),
            (JSONValue.object(["messages": user, "temperature": .int(3)]).serialized(), 400, "temperature", nil),
            (JSONValue.object(["messages": user, "max_tokens": .string("ten")]).serialized(), 400, "max_tokens", nil),
            (JSONValue.object(["messages": user, "n": .int(2)]).serialized(), 400, "n", nil),
            (JSONValue.object(["messages": user, "stop": .array([.int(1)])]).serialized(), 400, "stop[0]", nil),
            (JSONValue.object(["messages": user, "max_tokens": .int(500)]).serialized(), 400, "max_tokens", "context_length_exceeded"),
            (JSONValue.object(["messages": .array([.object(["role": .string("user"),
                                                            "content": .string(String(repeating: "word ", count: 100))])])]).serialized(),
             400, "messages", "context_length_exceeded"),
            (String(repeating: " ", count: 5000) + "{}", 413, nil, "body_too_large"),
        ]
        for c in cases {
            let reply = try server.request("POST", "/v1/chat/completions", body: c.body)
            #expect(reply.status == c.status, "\(c.body.prefix(80)): \(reply.body)")
            let error = reply.json?["error"]
            #expect(error?["message"]?.stringValue?.isEmpty == false, "\(reply.body)")
            #expect(error?["param"]?.stringValue == c.param, "\(c.body.prefix(80)): \(reply.body)")
            if let code = c.code { #expect(error?["code"]?.stringValue == code, "\(reply.body)") }
        }
        let overflow = try server.post("/v1/completions", .object(["prompt": .string(String(repeating: "word ", count: 100))]))
        #expect(overflow.status == 400 && overflow.json?["error"]?["param"]?.stringValue == "prompt")
        let badToken = try server.post("/detokenize", .object(["tokens": .array([.int(1), .int(-5)])]))
        #expect(badToken.status == 400 && badToken.json?["error"]?["param"]?.stringValue == "tokens[1]")
        let missing = try server.request("GET", "/v1/nothing")
        #expect(missing.status == 404 && missing.json?["error"] != nil)

        // Round trip through the tokenizer endpoints.
        let text = "Kiln serves: naïve café ☕, 42!"
        let ids = try #require(try server.post("/tokenize", .object(["content": .string(text)])).json?["tokens"])
        #expect(try server.post("/detokenize", .object(["tokens": ids])).json?["content"]?.stringValue == text)
        #expect(try server.request("GET", "/health").json?["status"]?.stringValue == "ok")
        #expect(server.stop() == 0)
    }

    /// With --api-key, requests without the key (or with another) get 401; /health stays open.
    @Test(.disabled(if: SmolLM2Tests.skip)) func apiKeyIsRequiredWhenSet() throws {
        try Self.requireInputs()
        let server = try ServerProcess(["--api-key", "sesame"])
        let none = try server.request("GET", "/v1/models")
        #expect(none.status == 401 && none.json?["error"]?["code"]?.stringValue == "invalid_api_key")
        #expect(try server.request("GET", "/v1/models", headers: ["Authorization: Bearer sesam"]).status == 401)
        let good = try server.request("GET", "/v1/models", headers: ["Authorization: Bearer sesame"])
        #expect(good.status == 200 && good.json?["data"]?[0]?["id"]?.stringValue == "SmolLM2-135M-Instruct.Q4_1")
        #expect(try server.request("GET", "/health").status == 200)
        #expect(server.stop() == 0)
    }

    /// One slot and a queue of one: of four requests at once, the two that fit are answered 200
    /// and the rest 429 with Retry-After; every request gets exactly one answer.
    @Test(.disabled(if: SmolLM2Tests.skip)) func fullQueueAnswers429() throws {
        try Self.requireInputs()
        let server = try ServerProcess(["--parallel", "1", "--queue", "1"])
        let replies = Self.concurrently(4) { _ in try server.post("/v1/completions", Self.completion("Count to ten:", tokens: 48)) }
        let statuses = replies.map { $0?.status ?? 0 }
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
        #expect(statuses.filter { $0 == 200 }.count >= 2, "\(statuses)")
        #expect(statuses.contains(429), "\(statuses)")
        for reply in replies.compactMap({ $0 }) where reply.status == 429 {
            #expect(reply.headers["retry-after"] != nil)
            #expect(reply.json?["error"]?["code"]?.stringValue == "queue_full")
        }
        #expect(server.stop() == 0)
    }

    /// A client that hangs up mid-stream frees its slot: the server stops generating for it (the
    /// token counter stops) and serves the next request in the only slot at once.
    @Test(.disabled(if: SmolLM2Tests.skip)) func disconnectCancelsGeneration() throws {
        try Self.requireInputs()
        let server = try ServerProcess(["--parallel", "1"])
        let long = Self.completion("Write a long story:", tokens: 3000, stream: true)
        _ = try server.request("POST", "/v1/completions", body: long.serialized(), curl: ["--max-time", "1"])
        Thread.sleep(forTimeInterval: 0.5)
        let health = try server.request("GET", "/health").json
        #expect(health?["slots_processing"]?.intValue == 0, "\(String(describing: health))")
        let generated = { (try? server.request("GET", "/metrics").body)?
            .components(separatedBy: "\n").first { $0.hasPrefix("kiln_generated_tokens_total ") }?
            .split(separator: " ").last.flatMap { Double($0) } ?? -1 }
        let before = generated()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(before > 0 && before < 3000 && generated() == before)
        let next = try server.post("/v1/completions", Self.completion("Hello", tokens: 4))
        #expect(next.status == 200)
        #expect(server.stop() == 0)
    }

    /// SIGTERM while a request runs: it is answered in full (the text `kiln-run generate` gives),
    /// then the server exits 0 and accepts no new connection.
    @Test(.disabled(if: SmolLM2Tests.skip)) func sigtermFinishesRunningRequests() throws {
        try Self.requireInputs()
        let prompt = "Count from 1 to 100: 1, 2, 3,", tokens = 160
        let expected = try Self.generate(prompt, tokens: tokens)
        let server = try ServerProcess(["--parallel", "2"])
        let replies = Self.concurrently(2) { index in
            if index == 0 { return try server.post("/v1/completions", Self.completion(prompt, tokens: tokens)) }
            // Wait until the generation is running, then stop the server.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, (try? server.request("GET", "/health").json?["slots_processing"]?.intValue) != 1 {
                Thread.sleep(forTimeInterval: 0.02)
            }
            kill(server.process.processIdentifier, SIGTERM)
            return ServerProcess.Reply(status: 0, headers: [:], body: "")
        }
        let reply = try #require(replies[0])
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json?["choices"]?[0]?["text"]?.stringValue == expected.text)
        #expect(server.stop() == 0)
        let deadline = Date().addingTimeInterval(2)  // the last line may still be in the pipe
        while !server.output.contains("stopped"), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(server.output.contains("stopped"))
        #expect(try server.request("GET", "/health").status == 0)  // connection refused
    }

    /// /metrics is Prometheus text that counts what was served.
    @Test(.disabled(if: SmolLM2Tests.skip)) func metricsCountRequestsAndTokens() throws {
        try Self.requireInputs()
        let server = try ServerProcess()
        let usage = try #require(try server.post("/v1/completions", Self.completion("Hi", tokens: 5)).json?["usage"])
        let metrics = try server.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        let lines = metrics.body.components(separatedBy: "\n")
        func value(_ prefix: String) -> Double? { lines.first { $0.hasPrefix(prefix + " ") }?.split(separator: " ").last.flatMap { Double($0) } }
        #expect(value(#"kiln_requests_total{endpoint="/v1/completions",status="200"}"#) == 1)
        #expect(value("kiln_generated_tokens_total") == usage["completion_tokens"]?.doubleValue)
        #expect(value("kiln_prompt_tokens_total") == usage["prompt_tokens"]?.doubleValue)
        #expect(value("kiln_queue_length") == 0)
        #expect(lines.contains { $0.hasPrefix("# TYPE kiln_generation_tokens_per_second gauge") })
        #expect(server.stop() == 0)
    }

    /// The `openai` Python package against the server (Tools/serve_openai_check.py): models,
    /// chat, streaming chat and completions, the greedy streamed text against kiln-run's, and
    /// every response against the schemas of docs/openapi.yaml.
    @Test(.disabled(if: SmolLM2Tests.skip)) func openAIPythonClient() throws {
        try Self.requireInputs()
        try #require(pythonCanImport(["openai", "jsonschema", "yaml"]), "pip install -r Tools/requirements-test.txt")
        let server = try ServerProcess(["--parallel", "2"])
        let result = try run(python3()!, [Repository.path("Tools/serve_openai_check.py"), "--base-url", server.baseURL,
                                          "--kiln-run", SmolLM2Tests.kilnRun, "--model", SmolLM2Tests.model])
        print(result.stdout)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(server.stop() == 0)
    }

    /// schemathesis generates requests for every operation of docs/openapi.yaml
    /// (Tools/serve_schemathesis.sh): no 5xx, no response outside its schema, 405 for methods
    /// the spec does not list.
    @Test(.disabled(if: SmolLM2Tests.skip)) func schemathesisFindsNothing() throws {
        try Self.requireInputs()
        try #require(pythonCanImport(["schemathesis"]), "pip install -r Tools/requirements-test.txt")
        let server = try ServerProcess(["--ctx", "96", "--parallel", "4", "--queue", "256"])
        let result = try run(Repository.path("Tools/serve_schemathesis.sh"), [server.baseURL, "10"])
        print(result.stdout.components(separatedBy: "\n").suffix(25).joined(separator: "\n"))
        #expect(result.status == 0, "\(result.stdout.suffix(4000))\(result.stderr)")
        #expect(server.stop() == 0)
    }
}
