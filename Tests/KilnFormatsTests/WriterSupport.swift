import Foundation
import KilnCore
@testable import KilnFormats
import TestSupport

/// A reader that fails when asked for one tensor's data, to check that a write that fails
/// part-way leaves nothing behind.
final class FailingReader: CheckpointReader, @unchecked Sendable {
    let inner: any CheckpointReader
    let failing: String

    init(_ inner: any CheckpointReader, failingAt name: String) {
        self.inner = inner
        failing = name
    }

    var formatName: String { inner.formatName }
    var paths: [String] { inner.paths }
    var metadata: [String: MetadataValue] { inner.metadata }
    var sourceTensors: [SourceTensor] { inner.sourceTensors }

    func data(_ tensor: SourceTensor) throws -> TensorData {
        if tensor.name == failing { throw KilnError(.io, "simulated read failure", file: paths.first, location: "tensor '\(tensor.name)'") }
        return try inner.data(tensor)
    }
}

enum Writers {
    static let all: [any FormatWriter] = [KilnFormatWriter(), SafetensorsWriter(), GGUFWriter()]

    static func convert(_ source: String, to writer: any FormatWriter, _ output: String,
                        dtype: ElementType? = nil, layout: ExportLayout = .canonical) throws -> Conversion.Summary {
        try Conversion.convert(try CanonicalModel.open(source), to: writer, output: output,
                               options: .init(dtype: dtype, layout: layout))
    }

    static let pythonGGUF = pythonCanImport(["numpy", "gguf"])
    static let pythonSafetensors = pythonCanImport(["numpy", "safetensors", "gguf"])
    /// Optional: torch and transformers are not test requirements (too large), but are checked with when present.
    static let pythonTransformers = pythonCanImport(["torch", "transformers"])
}
