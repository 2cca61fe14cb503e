/// The layout of the interleaved kernel types (`q8_0x8`, `q4_0x8`, `q4_1x8`; docs/FORMAT.md
/// §7.4): the same blocks as their row-major `base` type, but `rows` consecutive rows are stored
/// together, one block column at a time, with the fields of those rows' blocks regrouped so a
/// SIMD kernel reads `rows` rows' scales with one load and `rows` rows' quants with another.
/// The matrix-vector kernels stream exactly these bytes; nothing is repacked at load time.
///
/// A base block is `headerBytes` of 2-byte fields (the f16 scale `d`, then the minimum `m` for
/// the `_1` types) followed by its quants. One interleaved group block holds `rows` base blocks:
/// for each 2-byte field, that field of row 0, 1, …, rows−1; then the quants in 4-byte chunks,
/// chunk 0 of rows 0…rows−1, chunk 1 of rows 0…rows−1, and so on. The last group of a matrix
/// whose row count is not a multiple of `rows` is padded with all-zero blocks, which decode to 0.
package final class RowInterleaving: Sendable {
    package let base: ElementType
    package let rows: Int
    package let headerBytes: Int
    package static let chunkBytes = 4

    init(base: ElementType, rows: Int, headerBytes: Int) {
        precondition(headerBytes % 2 == 0 && (base.blockBytes - headerBytes) % Self.chunkBytes == 0)
        self.base = base
        self.rows = rows
        self.headerBytes = headerBytes
    }

    /// Bytes of one group block: `rows` base blocks.
    package var groupBlockBytes: Int { rows * base.blockBytes }

    /// Rows stored for a matrix of `rows` rows: rounded up to whole groups.
    package func storedRows(_ rows: Int) -> Int { (rows + self.rows - 1) / self.rows * self.rows }

    /// Moves the base blocks of row `r` (0 ≤ r < rows) of one group, one block column, between
    /// the row-major block at `rowMajor` and the group block at `group`, in either direction.
    @inline(__always)
    private func permute(row r: Int, rowMajor: UnsafeMutableRawPointer, group: UnsafeMutableRawPointer, toGroup: Bool) {
        var offset = 0
        while offset < headerBytes {
            let g = group + offset * rows + 2 * r
            if toGroup { g.copyMemory(from: rowMajor + offset, byteCount: 2) } else { (rowMajor + offset).copyMemory(from: g, byteCount: 2) }
            offset += 2
        }
        let chunks = (base.blockBytes - headerBytes) / Self.chunkBytes
        for t in 0..<chunks {
            let g = group + headerBytes * rows + (t * rows + r) * Self.chunkBytes
            let m = rowMajor + headerBytes + t * Self.chunkBytes
            if toGroup { g.copyMemory(from: m, byteCount: Self.chunkBytes) } else { m.copyMemory(from: g, byteCount: Self.chunkBytes) }
        }
    }

    /// Writes the interleaved form of a row-major `[rows, cols]` matrix of base blocks into
    /// `destination`, which holds `storedRows(rows) * cols / 32` blocks; padding rows are zeroed.
    package func interleave(_ source: UnsafeRawPointer, rows: Int, cols: Int, into destination: UnsafeMutableRawPointer) {
        let blocksPerRow = cols / base.blockElements
        let rowBytes = blocksPerRow * base.blockBytes
        let groups = storedRows(rows) / self.rows
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: groups * blocksPerRow * groupBlockBytes)
        for g in 0..<groups {
            for r in 0..<min(self.rows, rows - g * self.rows) {
                let sourceRow = UnsafeMutableRawPointer(mutating: source + (g * self.rows + r) * rowBytes)
                for c in 0..<blocksPerRow {
                    permute(row: r, rowMajor: sourceRow + c * base.blockBytes,
                            group: destination + (g * blocksPerRow + c) * groupBlockBytes, toGroup: true)
                }
            }
        }
    }

    /// The inverse of `interleave`: writes `rows * cols / 32` row-major base blocks (padding dropped).
    package func deinterleave(_ source: UnsafeRawPointer, rows: Int, cols: Int, into destination: UnsafeMutableRawPointer) {
        for r in 0..<rows { extractRow(source, row: r, cols: cols, into: destination + r * (cols / base.blockElements) * base.blockBytes) }
    }

    /// Writes row `row`'s `cols / 32` base blocks, row-major, into `destination`.
    package func extractRow(_ source: UnsafeRawPointer, row: Int, cols: Int, into destination: UnsafeMutableRawPointer) {
        let blocksPerRow = cols / base.blockElements
        let groupStart = UnsafeMutableRawPointer(mutating: source + (row / rows) * blocksPerRow * groupBlockBytes)
        for c in 0..<blocksPerRow {
            permute(row: row % rows, rowMajor: destination + c * base.blockBytes,
                    group: groupStart + c * groupBlockBytes, toGroup: false)
        }
    }
}
