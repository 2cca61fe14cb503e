import Foundation
import KilnCore

/// Writes `.kiln` files through `KilnWriter`: canonical tensors, the model config, tokenizer
/// and carried keys as typed metadata, and provenance (tool, and each source file's SHA-256,
/// hashed on another thread while the tensors are written).
package struct KilnFormatWriter: FormatWriter {
    package init() {}
    package var formatName: String { "kiln" }
    package var storesInterleavedBlocks: Bool { true }

    package func write(_ plan: ExportPlan, to path: String, options: WriteOptions, progress: ((Int, Int) -> Void)?) throws {
        let hashes = SourceHashes(paths: plan.model.reader.paths)
        let writer = try KilnWriter(path: path)
        let total = plan.totalBytes
        var done = 0
        try plan.stream(plan.tensors) { tensor, data in
            try writer.add(name: tensor.name, type: tensor.type, shape: tensor.shape, bytes: data.bytes, storage: options.storage)
            done += tensor.byteCount
            progress?(done, total)
        }
        var metadata = plan.metadata
        metadata["source.format"] = .string(plan.model.reader.formatName)
        metadata["provenance.tool"] = .string("kiln \(KilnVersion.current)")
        metadata["provenance.sources"] = .array(try hashes.wait())
        writer.metadata = metadata
        try writer.finish()
    }
}

/// SHA-256 of each source file, computed on a background thread from the moment it is made, so
/// the serial pass over every input byte overlaps the work that reads them (`SHA256.hexOfFile`: in
/// chunks whose pages are dropped once hashed, so hashing a large source does not keep it
/// resident). `.kiln` conversion and quantisation record the result as `provenance.sources`.
package final class SourceHashes: @unchecked Sendable {
    // Sendable: `result` is written once before `group` is left and read only after `wait()`.
    private let group = DispatchGroup()
    private var result: Result<[MetadataValue], Error> = .success([])

    package init(paths: [String]) {
        DispatchQueue.global().async(group: group) {
            self.result = Result {
                try paths.map { path in
                    let (bytes, sha256) = try SHA256.hexOfFile(path)
                    return .map([
                        "name": .string(URL(fileURLWithPath: path).lastPathComponent),
                        "bytes": .uint(UInt64(bytes)),
                        "sha256": .string(sha256),
                    ])
                }
            }
        }
    }

    /// Each source's name, size and digest; rethrows a file that could not be read.
    package func wait() throws -> [MetadataValue] {
        group.wait()
        return try result.get()
    }
}
