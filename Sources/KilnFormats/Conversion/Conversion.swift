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

    /// Writes `reader`'s tensors and metadata to `output`, in canonical form when the
    /// architecture is recognised. See `toKiln(_ model:…)`.
    public static func toKiln(
        _ reader: any CheckpointReader, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        try toKiln(try CanonicalModel(reader: reader), output: output, options: options, progress: progress)
    }

    /// Writes the model's canonical tensors, config, tokenizer and provenance to `output`.
    /// Memory is bounded by the largest tensor (sources are mapped, not loaded; only tensors
    /// that need a transform are copied, one at a time); the output appears only when complete.
    /// `progress` is called with (bytes done, bytes total) after each tensor.
    public static func toKiln(
        _ model: CanonicalModel, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        let start = DispatchTime.now()
        // Provenance hashes are computed beside the conversion: both read the same pages.
        let hashes = SourceHashes(paths: model.reader.paths)

        let writer = try KilnWriter(path: output)
        let total = model.tensors.reduce(0) { $0 + $1.byteCount }
        var done = 0
        for tensor in model.tensors {
            let data = try model.data(tensor)
            try withExtendedLifetime(data.owner) {
                _ = try writer.add(name: tensor.name, type: tensor.type, shape: tensor.shape, bytes: data.bytes, storage: options.storage)
            }
            done += tensor.byteCount
            progress?(done, total)
        }
        var metadata = model.canonicalMetadata
        metadata["source.format"] = .string(model.reader.formatName)
        metadata["provenance.tool"] = .string("kiln \(KilnVersion.current)")
        metadata["provenance.sources"] = .array(try hashes.wait())
        writer.metadata = metadata
        try writer.finish()

        let outputBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Summary(tensors: model.tensors.count, inputBytes: total, outputBytes: outputBytes, seconds: seconds)
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
