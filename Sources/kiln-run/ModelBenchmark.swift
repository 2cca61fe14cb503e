import Foundation
import Kiln
import KilnCommandLine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// llama-bench's measurement: after a warm-up pass, prompt processing of `promptTokens` tokens
/// as one batch, then `generatedTokens` single-token decode steps (greedy, never stopping early);
/// plus load time and the process's peak resident memory.
struct ModelBenchmark {
    let path: String
    let promptTokens: Int
    let generatedTokens: Int
    let threads: Int?
    let repack: Bool
    /// f16 KV cache (`--kv-cache f16`).
    let halfPrecisionCache: Bool
    let log: Bool

    func run() throws -> JSONValue {
        if let threads { RuntimeSettings.setThreads(threads) }
        var clock = DispatchTime.now()
        let transformer = try Transformer(model: try CanonicalModel.open(path), repack: repack)
        let loadSeconds = seconds(since: clock)
        let config = transformer.config
        let context = promptTokens + generatedTokens
        let state = try InferenceState(transformer: transformer, contextLength: context, halfPrecisionCache: halfPrecisionCache)
        // Fixed pseudo-random prompt (as llama-bench uses random tokens), the same every run.
        var random = SplitMix(seed: 42)
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(config.vocabulary)) }

        // Warm-up, as llama-bench does: the first pass faults every weight page of the mapping in
        // (0.1–0.2 s for a 270 MB file), which is load cost, not prompt speed.
        _ = try state.forward(Array(prompt.prefix(min(promptTokens, 32))))
        state.reset()

        clock = DispatchTime.now()
        var logits = try state.forward(prompt)
        let promptSeconds = seconds(since: clock)
        clock = DispatchTime.now()
        for _ in 0..<generatedTokens {
            logits = try state.forward([Sampler.argmax(logits)])
        }
        let generateSeconds = seconds(since: clock)
        let peak = peakResidentBytes()
        // The size of the file itself when `path` is a symbolic link (attributesOfItem does not follow links).
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: resolved)[.size] as? Int) ?? 0
        let result: [String: JSONValue] = [
            "model": .string(path), "threads": .int(Int64(threads ?? ProcessInfo.processInfo.activeProcessorCount)),
            "prompt_tokens": .int(Int64(promptTokens)), "generated_tokens": .int(Int64(generatedTokens)),
            "prompt_tokens_per_second": .double(Double(promptTokens) / promptSeconds),
            "generated_tokens_per_second": .double(Double(generatedTokens) / generateSeconds),
            "load_seconds": .double(loadSeconds), "peak_rss_bytes": .int(Int64(peak)),
            "model_file_bytes": .int(Int64(fileBytes)), "kv_cache_bytes": .int(Int64(state.kvCacheBytes)),
            "repacked_bytes": .int(Int64(transformer.repackedBytes)),
        ]
        if log {
            print(String(format: "prompt:   %d tokens in %.3f s = %.1f tok/s", promptTokens, promptSeconds, Double(promptTokens) / promptSeconds))
            print(String(format: "generate: %d tokens in %.3f s = %.1f tok/s", generatedTokens, generateSeconds,
                         Double(generatedTokens) / generateSeconds))
            print(String(format: "load %.3f s · peak RSS %.1f MiB (file %.1f MiB + KV cache %.1f MiB)", loadSeconds,
                         Double(peak) / 1_048_576, Double(fileBytes) / 1_048_576, Double(state.kvCacheBytes) / 1_048_576)
                  + (transformer.repackedBytes == 0 ? "" : String(format: " · %.1f MiB repacked at load", Double(transformer.repackedBytes) / 1_048_576)))
        }
        return .object(result)
    }
}

/// The process's peak resident set size in bytes. On Linux this is VmHWM from /proc: unlike
/// getrusage's ru_maxrss, it belongs to this program's address space and is not inherited
/// from a large parent across fork and exec.
func peakResidentBytes() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
        return kilobytes * 1024
    }
    #endif
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if canImport(Darwin)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #else
    return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    #endif
}
