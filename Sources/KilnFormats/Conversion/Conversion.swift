import Dispatch
import Foundation
import KilnCore

/// Converts any readable checkpoint into a `.kiln` file, one tensor at a time.
public enum Conversion {
    public struct Options: Sendable {
        public var storage: KilnWriter.Storage = .raw
        public init(storage: KilnWriter.Storage = .raw) { self.storage = storage }
    }

    public struct Summary: Sendable {
        public var tensors: Int
        public var inputBytes: Int
        public var outputBytes: Int
        public var seconds: Double
        public var megabytesPerSecond: Double { seconds > 0 ? Double(inputBytes) / seconds / 1e6 : 0 }
    }

    /// Writes `reader`'s tensors and metadata to `output`. Memory is bounded by the largest
    /// tensor (source tensors are mapped, not loaded); the output appears only when complete.
    /// `progress` is called with (bytes done, bytes total) after each tensor.
    public static func toKiln(
        _ reader: any CheckpointReader, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        let start = DispatchTime.now()
        // Provenance hashes are computed beside the conversion: both read the same pages.
        let hashes = SourceHashes(paths: reader.paths)

        let writer = try KilnWriter(path: output)
        let tensors = reader.sourceTensors
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        var done = 0
        for tensor in tensors {
            let data = try reader.data(tensor)
            try withExtendedLifetime(data.owner) {
                _ = try writer.add(name: tensor.name, type: tensor.type, shape: tensor.shape, bytes: data.bytes, storage: options.storage)
            }
            done += tensor.byteCount
            progress?(done, total)
        }
        writer.metadata = try metadata(for: reader, sources: hashes.wait())
        try writer.finish()

        let outputBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Summary(tensors: tensors.count, inputBytes: total, outputBytes: outputBytes, seconds: seconds)
    }

    /// The output's metadata: what the source said (kept verbatim) and where it came from.
    static func metadata(for reader: any CheckpointReader, sources: [MetadataValue]) throws -> [String: MetadataValue] {
        var metadata: [String: MetadataValue] = [:]
        if reader is KilnFile {
            // Re-encoding a .kiln file keeps its metadata; only provenance is written anew.
            metadata = reader.metadata.filter { !$0.key.hasPrefix("provenance.") }
        } else if !reader.metadata.isEmpty {
            metadata["source.metadata"] = .map(reader.metadata)
        }
        metadata["source.format"] = .string(reader.formatName)
        metadata["provenance.tool"] = .string("kiln \(KilnVersion.current)")
        metadata["provenance.sources"] = .array(sources)
        return metadata
    }
}

/// SHA-256 of each source file, computed on a background thread.
final class SourceHashes: @unchecked Sendable {
    // Sendable: `result` is written once before `group` is left and read only after `wait()`.
    private let group = DispatchGroup()
    private var result: Result<[MetadataValue], Error> = .success([])

    init(paths: [String]) {
        DispatchQueue.global().async(group: group) {
            self.result = Result {
                try paths.map { path in
                    let mapping = try MappedFile(path: path)
                    mapping.advise(.sequential)
                    return .map([
                        "name": .string(URL(fileURLWithPath: path).lastPathComponent),
                        "bytes": .uint(UInt64(mapping.count)),
                        "sha256": .string(SHA256.hex(mapping.bytes)),
                    ])
                }
            }
        }
    }

    func wait() throws -> [MetadataValue] {
        group.wait()
        return try result.get()
    }
}
