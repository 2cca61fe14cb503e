#if !KILN_LIBFUZZER
import Foundation

/// `kiln-fuzz TARGET PATH…`: runs files (or every file in directories) through a fuzz target
/// without libFuzzer, printing one line per input: `ok` or the error it threw. A crash stops
/// the process, which is the point: tests replay committed crash inputs this way.
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let body = FuzzTargets.all[name], arguments.count > 1 else {
            FileHandle.standardError.write(Data("usage: kiln-fuzz TARGET PATH…  (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst().flatMap(files) {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                exit(2)
            }
            let outcome: String = data.withUnsafeBytes { bytes in
                do { try body(bytes); return "ok" } catch { return "error: \(error)" }
            }
            print("\(path): \(outcome)")
        }
    }

    static func files(_ path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }
    }
}
#endif
