/// A short unified-diff excerpt of two texts (chat templates), from a longest-common-subsequence
/// alignment of their lines: `-` lines only in A, `+` lines only in B, ` ` context.
enum LineDiff {
    /// Beyond this many line pairs the alignment table would be large; the excerpt then shows
    /// the first differing line of each side only.
    static let maxCells = 4_000_000

    static func excerpt(_ a: String, _ b: String, context: Int = 1, maxLines: Int = 12) -> [String] {
        let x = lines(a), y = lines(b)
        guard x.count * y.count <= maxCells else {
            let first = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
            var out = ["@@ line \(first + 1) @@"]
            if first < x.count { out.append("-" + x[first]) }
            if first < y.count { out.append("+" + y[first]) }
            return out
        }
        let operations = align(x, y)
        // Keep changed lines and `context` lines around them.
        var keep = [Bool](repeating: false, count: operations.count)
        for (i, op) in operations.enumerated() where op.mark != " " {
            for j in max(0, i - context)...min(operations.count - 1, i + context) { keep[j] = true }
        }
        var out: [String] = []
        var previous = -1
        for (i, op) in operations.enumerated() where keep[i] {
            if i != previous + 1 || out.isEmpty { out.append("@@ line \(op.lineA + 1) @@") }
            out.append(op.mark + op.text)
            previous = i
            if out.count >= maxLines {
                if keep[(i + 1)...].contains(true) { out.append("…") }
                break
            }
        }
        return out
    }

    private struct Operation {
        var mark: String
        var text: String
        /// Line number in A where this operation sits.
        var lineA: Int
    }

    private static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    private static func align(_ x: [String], _ y: [String]) -> [Operation] {
        let n = x.count, m = y.count
        // lcs[i][j]: length of the LCS of x[i...] and y[j...], in one flat table.
        var lcs = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        func at(_ i: Int, _ j: Int) -> Int { i * (m + 1) + j }
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    lcs[at(i, j)] = x[i] == y[j] ? lcs[at(i + 1, j + 1)] + 1 : max(lcs[at(i + 1, j)], lcs[at(i, j + 1)])
                }
            }
        }
        var operations: [Operation] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, x[i] == y[j] {
                operations.append(Operation(mark: " ", text: x[i], lineA: i))
                i += 1
                j += 1
            } else if i < n, j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)] {
                // Deletions before insertions, as unified diffs print a replaced line.
                operations.append(Operation(mark: "-", text: x[i], lineA: i))
                i += 1
            } else {
                operations.append(Operation(mark: "+", text: y[j], lineA: i))
                j += 1
            }
        }
        return operations
    }
}
