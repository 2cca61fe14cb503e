import Dispatch
import Foundation
import KilnCore

/// Converts any readable checkpoint into any writable format, one tensor at a time: memory is
/// bounded by the tensors in flight (sources are mapped, not loaded, and their pages dropped
/// once written), and the output appears under its name only when complete.
public enum Conversion {
    /// How to write the output.
    public struct Options: Sendable {
        /// `.kiln` only: raw or zstd.
        public var storage: KilnWriter.Storage
        /// Convert float tensors (and dequantise quantised ones) to this type; nil keeps types.
        public var dtype: ElementType?
        /// The tensor names and layout to write: canonical (llama.cpp's) or, for safetensors,
        /// Hugging Face's.
        public var layout: ExportLayout
        /// Replace side files (config.json, tokenizer files) that exist.
        public var overwrite: Bool

        /// Options with each field as documented; the defaults keep types and write raw tensors.
        public init(storage: KilnWriter.Storage = .raw, dtype: ElementType? = nil, layout: ExportLayout = .canonical,
                    overwrite: Bool = false) {
            self.storage = storage
            self.dtype = dtype
            self.layout = layout
            self.overwrite = overwrite
        }
    }

    /// What a conversion did.
    public struct Summary: Sendable {
        /// Tensors written.
        public var tensors: Int
        /// Bytes of the source tensors read.
        public var inputBytes: Int
        /// Size of the file written.
        public var outputBytes: Int
        /// Wall-clock time, in seconds.
        public var seconds: Double
        /// Source bytes converted per second, in MB/s (10⁶ bytes).
        public var megabytesPerSecond: Double { seconds > 0 ? Double(inputBytes) / seconds / 1e6 : 0 }
        /// Output bytes written per second, in MB/s.
        public var outputMegabytesPerSecond: Double { seconds > 0 ? Double(outputBytes) / seconds / 1e6 : 0 }
    }

    /// Writes `reader`'s tensors and metadata to a `.kiln` file, in canonical form when the
    /// architecture is recognised.
    ///
    /// - Throws: ``/KilnCore/KilnError`` if the checkpoint cannot be read or the output cannot be written;
    ///   nothing appears at `output` then.
    @discardableResult
    public static func toKiln(
        _ reader: any CheckpointReader, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        try toKiln(try CanonicalModel(reader: reader), output: output, options: options, progress: progress)
    }

    /// Writes a canonical model to a `.kiln` file.
    ///
    /// - Throws: ``/KilnCore/KilnError`` if a tensor cannot be read or the output cannot be written;
    ///   nothing appears at `output` then.
    @discardableResult
    public static func toKiln(
        _ model: CanonicalModel, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        try convert(model, to: KilnFormatWriter(), output: output, options: options, progress: progress)
    }

    /// Plans the conversion (which checks every tensor fits the format before a file is made)
    /// and writes it. `progress` is called with (bytes done, bytes total) after each tensor.
    /// Use ``FormatRegistry/writer(for:format:)`` to pick `writer` from the output's extension.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.unsupported` if a tensor cannot be stored in the format
    ///   (checked before anything is written), or a read or write failure.
    @discardableResult
    public static func convert(
        _ model: CanonicalModel, to writer: any FormatWriter, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        let plan = try ExportPlan(model: model, writer: writer, dtype: options.dtype, layout: options.layout)
        return try write(plan, with: writer, output: output, options: options, progress: progress)
    }

    /// Writes an already planned conversion (``convert(_:to:output:options:progress:)`` plans
    /// and writes in one step).
    ///
    /// - Throws: ``/KilnCore/KilnError`` if a tensor cannot be read or the output cannot be written.
    @discardableResult
    public static func write(
        _ plan: ExportPlan, with writer: any FormatWriter, output: String, options: Options = Options(),
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        let start = DispatchTime.now()
        try writer.write(plan, to: output, options: WriteOptions(storage: options.storage, overwrite: options.overwrite),
                         progress: progress)
        let outputBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let inputBytes = plan.tensors.reduce(0) { $0 + $1.canonical.byteCount }
        return Summary(tensors: plan.tensors.count, inputBytes: inputBytes, outputBytes: outputBytes, seconds: seconds)
    }
}
