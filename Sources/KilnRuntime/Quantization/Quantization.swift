import Dispatch
import Foundation
import KilnCore
import KilnFormats
import KilnKernels
import KilnQuant

/// What `kiln quantize` did to each tensor and to the model as a whole.
public struct QuantizationReport: Sendable {
    /// One tensor of the output.
    public struct Entry: Sendable {
        /// The canonical tensor name.
        public var name: String
        /// The scheme written, or the source type when the tensor was kept.
        public var type: String
        /// Values in the tensor.
        public var parameters: Int
        /// Bytes written for it.
        public var bytes: Int
        /// nil when the tensor was copied unchanged.
        public var error: QuantizationError?
    }

    /// The recipe applied.
    public var recipe: QuantRecipe
    /// Every tensor, in output order.
    public var entries: [Entry]
    /// Tokens of calibration text run through the model (0 without calibration).
    public var calibrationTokens: Int
    /// The SHA-256 (hex) of the calibration text, recorded as provenance.
    public var calibrationSHA256: String?
    /// Wall-clock time, in seconds.
    public var seconds: Double
    /// Bytes of the quantised tensors as stored in the source (2 per value for an f16 model), for
    /// throughput.
    public var quantizedInputBytes: Int

    /// Values in all tensors.
    public var parameters: Int { entries.reduce(0) { $0 + $1.parameters } }
    /// Bytes of all tensors written.
    public var bytes: Int { entries.reduce(0) { $0 + $1.bytes } }
    /// The model's average storage cost per value, quantised and kept tensors together.
    public var bitsPerWeight: Double { parameters > 0 ? Double(bytes * 8) / Double(parameters) : 0 }
    /// Quantisation speed: source bytes of the quantised tensors per second, in MB/s.
    public var megabytesPerSecond: Double { seconds > 0 ? Double(quantizedInputBytes) / seconds / 1e6 : 0 }

    /// The report as metadata for the output's provenance.
    package var metadata: MetadataValue {
        var map: [String: MetadataValue] = [
            "recipe": recipe.metadata, "bits_per_weight": .float(bitsPerWeight),
            "tensors": .array(entries.filter { $0.error != nil }.map { entry in
                .map(["name": .string(entry.name), "scheme": .string(entry.type),
                      "rmse": .float(entry.error!.rmse), "max_abs": .float(entry.error!.maxAbs),
                      "snr_db": .float(entry.error!.snrDecibels.isFinite ? entry.error!.snrDecibels : 999)])
            }),
        ]
        if let calibrationSHA256 {
            map["calibration"] = .map(["sha256": .string(calibrationSHA256), "tokens": .int(Int64(calibrationTokens))])
        }
        return .map(map)
    }
}

/// Quantises a model of any format into a `.kiln` file, tensor by tensor.
public enum Quantization {
    /// What to quantise to, and with what.
    public struct Options: Sendable {
        /// Which scheme each tensor gets.
        public var recipe: QuantRecipe
        /// A text whose activations weight the quantisation error (imatrix-style).
        public var calibrationText: String?
        /// The calibration text's SHA-256, recorded in the output's provenance when given.
        public var calibrationSHA256: String?
        /// Threads quantising rows at once (the result does not depend on it).
        public var threads: Int
        /// An importance file saved by an earlier calibration run, used instead of `calibrationText`.
        public var importancePath: String?
        /// Where to save the calibration run's importance, for `importancePath` in later runs.
        public var saveImportancePath: String?
        /// Options with each field as documented.
        public init(recipe: QuantRecipe, calibrationText: String? = nil, calibrationSHA256: String? = nil,
                    threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                    importancePath: String? = nil, saveImportancePath: String? = nil) {
            self.recipe = recipe
            self.calibrationText = calibrationText
            self.calibrationSHA256 = calibrationSHA256
            self.threads = threads
            self.importancePath = importancePath
            self.saveImportancePath = saveImportancePath
        }
    }

    /// Quantises `model` as `options.recipe` says and writes a `.kiln` file at `output`
    /// (atomically), with the report in its `provenance.quantization`. Tensors already quantised
    /// in the source are decoded first; vectors stay as they are. `progress` receives (tensors
    /// done, tensors total).
    ///
    /// - Throws: ``/KilnCore/KilnError`` if a tensor cannot be read, the calibration text cannot be run
    ///   through the model, or the output cannot be written; nothing appears at `output` then.
    public static func quantize(_ model: CanonicalModel, output: String, options: Options,
                                progress: ((Int, Int) -> Void)? = nil) throws -> QuantizationReport {
        let start = DispatchTime.now()
        var importance: [String: [Float]] = [:]
        var calibrationTokens = 0
        var calibrationSHA256 = options.calibrationSHA256
        if let path = options.importancePath {
            (importance, calibrationTokens, calibrationSHA256) = try ImportanceFile.read(path)
        } else if let text = options.calibrationText {
            let language = try LanguageModel(model: model)
            let calibration = try Calibration.collect(transformer: language.transformer, tokenizer: language.tokenizer, text: text)
            importance = calibration.importance
            calibrationTokens = calibration.tokens
        }
        if let path = options.saveImportancePath {
            guard !importance.isEmpty else { throw KilnError(.usage, "--save-importance needs --calibration") }
            try ImportanceFile.write(importance, tokens: calibrationTokens, calibrationSHA256: calibrationSHA256, to: path)
        }

        // The sources' SHA-256 (provenance) is a serial pass over every input byte: it runs on its
        // own thread beside the quantisers (which leave a core idle between tensors) instead of
        // after them.
        let sourceHashes = SourceHashes(paths: model.reader.paths)
        let writer = try KilnWriter(path: output)
        // Tensors are written while the next ones are quantised (see WriteBehind).
        let writes = WriteBehind()
        // On an error, the queued writes end before the writer is dropped (and its file deleted).
        defer { try? writes.finish() }
        var entries: [QuantizationReport.Entry] = []
        var quantizedInputBytes = 0
        for (index, tensor) in model.tensors.enumerated() {
            let data = try model.data(tensor)
            guard let scheme = options.recipe.scheme(for: tensor.name, shape: tensor.shape),
                  tensor.type.category == .float || tensor.type.isQuantized
            else {
                // The job holds `data`, and with it the mapping its bytes point into.
                try writes.submit(bytes: 0) {
                    try withExtendedLifetime(data.owner) {
                        _ = try writer.add(name: tensor.name, type: tensor.type, shape: tensor.shape, bytes: data.bytes)
                    }
                    model.reader.release(tensor.source)
                }
                entries.append(.init(name: tensor.name, type: tensor.type.name, parameters: tensor.elementCount,
                                     bytes: data.bytes.count, error: nil))
                progress?(index + 1, model.tensors.count)
                continue
            }
            let (bytes, error) = try withExtendedLifetime(data.owner) {
                let quantize = { (source: TensorQuantizer.RowSource) in
                    try TensorQuantizer.quantize(source, rows: tensor.shape[0], cols: tensor.shape[1], scheme: scheme,
                                                 importance: importance[tensor.name], method: options.recipe.method,
                                                 threads: options.threads)
                }
                if let source = rowDecoder(tensor, data.bytes) { return try quantize(source) }
                // Quantised or interleaved sources (requantising) are decoded whole.
                let values = try tensor.type.dequantize(data.bytes, shape: tensor.shape)  // checks the length, names the tensor
                return try values.withUnsafeBufferPointer { try quantize(.matrix($0.baseAddress!)) }
            }
            // The source's pages are read once: without this a quantisation kept every source
            // tensor it had read resident (SmolLM2 f16 → q4_k_m peaked at 376 MB, llama-quantize
            // at 218 MB).
            model.reader.release(tensor.source)
            try writes.submit(bytes: 2 * bytes.count) {
                // Stored in the layout the kernels stream (rows interleaved in groups of 8, when the
                // scheme has one): a lossless repack, done once here so nothing repacks at load.
                if let (type, interleaved) = Kernels.interleave(scheme.type, rows: tensor.shape[0], cols: tensor.shape[1], data: bytes.pointer) {
                    try interleaved.withBytes { _ = try writer.add(name: tensor.name, type: type, shape: tensor.shape, bytes: $0) }
                } else {
                    try bytes.withBytes { _ = try writer.add(name: tensor.name, type: scheme.type, shape: tensor.shape, bytes: $0) }
                }
            }
            quantizedInputBytes += data.bytes.count
            entries.append(.init(name: tensor.name, type: scheme.rawValue, parameters: tensor.elementCount, bytes: bytes.count, error: error))
            progress?(index + 1, model.tensors.count)
        }
        try writes.finish()
        var report = QuantizationReport(
            recipe: options.recipe, entries: entries, calibrationTokens: calibrationTokens,
            calibrationSHA256: calibrationSHA256, seconds: 0, quantizedInputBytes: quantizedInputBytes)
        var metadata = model.canonicalMetadata
        metadata["source.format"] = .string(model.reader.formatName)
        metadata["provenance.tool"] = .string("kiln \(KilnVersion.current)")
        metadata["provenance.sources"] = .array(try sourceHashes.wait())
        metadata["provenance.quantization"] = report.metadata
        writer.metadata = metadata
        try writer.finish()
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return report
    }

    /// A tensor's rows decoded as the quantiser reaches them (`TensorQuantizer.RowSource`), with
    /// no f32 copy of the whole tensor: f16 and bf16 — what a quantiser's input usually is —
    /// through the SIMD conversion kernels (one value at a time on one core they took 5% of a
    /// searched `q4` run), other row-major types block by block. Nil for interleaved types and
    /// when the bytes are not exactly the tensor's (the whole-tensor decode then names the problem).
    private static func rowDecoder(_ tensor: CanonicalTensor, _ bytes: UnsafeRawBufferPointer) -> TensorQuantizer.RowSource? {
        let type = tensor.type
        // byteCount also checks that a row holds whole blocks.
        guard tensor.shape.count == 2, type.interleaving == nil, let base = bytes.baseAddress,
              let byteCount = try? type.byteCount(shape: tensor.shape), byteCount == bytes.count
        else { return nil }
        let cols = tensor.shape[1], rowBytes = cols / type.blockElements * type.blockBytes
        let source = UncheckedSendable(base)
        if type == .f16 || type == .bf16, Int(bitPattern: base) % 2 == 0 {
            let format: HalfFormat = type == .f16 ? .f16 : .bf16
            return .decode { first, rows, into in
                Kernels.convert(source.value.assumingMemoryBound(to: UInt16.self) + first * cols, from: format, into: into, count: rows * cols)
            }
        }
        return .decode { first, rows, into in
            type.decodeBlocks(source.value + first * rowBytes, blocks: rows * cols / type.blockElements, into: into)
        }
    }
}
