import Foundation
import TestSupport
import Testing

/// Every input a fuzzer ever crashed on (Fixtures/fuzz/crashes/TARGET) and every seed
/// (Fixtures/fuzz/seeds/TARGET) replayed through the plain build of `kiln-fuzz`: each must end
/// as a value or a thrown error — the process must not die. Tools/fuzz.sh finds new ones.
struct FuzzRegressionTests {
    static let directories: [(target: String, path: String)] = {
        var found: [(String, String)] = []
        for kind in ["crashes", "seeds"] {
            let root = Repository.fixture("fuzz/\(kind)")
            for target in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() {
                found.append((target, root + "/" + target))
            }
        }
        return found
    }()

    /// A minute each: a replay that hangs (the shared-tuple pickle key did) fails rather than stalls.
    @Test(.timeLimit(.minutes(1)), arguments: directories.map { "\($0.target) \($0.path)" })
    func replayEndsWithoutACrash(_ entry: String) throws {
        let parts = entry.split(separator: " ", maxSplits: 1).map(String.init)
        let result = try run(Repository.executable("kiln-fuzz"), parts)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.hasSuffix(": ok") || line.contains(": error: "), "\(line)")
        }
    }
}
