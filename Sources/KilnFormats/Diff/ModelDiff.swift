import Dispatch
import Foundation
import KilnCore

/// Compares two models of any formats Kiln reads, through their canonical descriptions: a GGUF
/// and the Hugging Face safetensors it was converted from match tensor for tensor, as do a
/// model and its `.kiln` conversion. Tensors stream one at a time (chunks of each on a few
/// threads), so memory stays bounded whatever the model size.
public enum ModelDiff {
    /// What to compare and how.
    public struct Options: Sendable {
        /// When values count as equal enough; exact by default.
        public var tolerance: TensorComparison.Tolerance
        /// Shell-style globs (`blk.*.attn_q.weight`) on canonical names; empty compares all.
        public var tensorPatterns: [String]
        /// Threads comparing chunks of a tensor at once.
        public var threads: Int
        /// Trust equal `.kiln` checksums (XXH64) for identical tensors without reading them.
        public var useChecksums: Bool
        /// Globs on metadata difference keys to leave out. By default what records how a file was
        /// made rather than what it holds.
        public var ignoredMetadata: [String]
        /// Elements compared per chunk (per thread at a time).
        public var chunkElements: Int

        /// `provenance.*` and `source.format`: how and from what a file was made, not what it holds.
        public static let defaultIgnoredMetadata = ["provenance.*", "source.format"]

        /// Options with each field as documented; the defaults compare everything exactly.
        public init(tolerance: TensorComparison.Tolerance = .exact, tensorPatterns: [String] = [], threads: Int = 2,
                    useChecksums: Bool = true, ignoredMetadata: [String] = Options.defaultIgnoredMetadata,
                    chunkElements: Int = 1 << 16) {
            self.tolerance = tolerance
            self.tensorPatterns = tensorPatterns
            self.threads = threads
            self.useChecksums = useChecksums
            self.ignoredMetadata = ignoredMetadata
            self.chunkElements = chunkElements
        }
    }

    /// Opens both files (formats recognised as `kiln inspect` does) and compares them.
    ///
    /// - Throws: ``/KilnCore/KilnError`` if either file cannot be opened or read.
    public static func compare(_ pathA: String, _ pathB: String, options: Options = Options(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> DiffReport {
        try compare(try CanonicalModel.open(pathA), try CanonicalModel.open(pathB), options: options, progress: progress)
    }

    /// Compares A (the reference) with B. `progress` receives (bytes done, bytes total) of
    /// tensor data, possibly from several threads.
    ///
    /// - Throws: ``/KilnCore/KilnError`` if a tensor's data cannot be read.
    public static func compare(_ a: CanonicalModel, _ b: CanonicalModel, options: Options = Options(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> DiffReport {
        let start = DispatchTime.now()
        let fileA = a.reader.paths.first ?? "A", fileB = b.reader.paths.first ?? "B"
        func selected(_ tensor: CanonicalTensor) -> Bool {
            options.tensorPatterns.isEmpty || options.tensorPatterns.contains { Glob.matches($0, tensor.name) }
        }
        let tensorsA = a.tensors.filter(selected), tensorsB = b.tensors.filter(selected)
        let namesA = Set(tensorsA.map(\.name))
        let pairs = tensorsA.compactMap { t in b.tensor(named: t.name).flatMap { selected($0) ? (t, $0) : nil } }
        let onlyInA = tensorsA.filter { b.tensor(named: $0.name) == nil }.map(entry)
        let onlyInB = tensorsB.filter { !namesA.contains($0.name) }.map(entry)

        let total = pairs.reduce(0) { $0 + ($1.0.shape == $1.1.shape ? $1.0.byteCount + $1.1.byteCount : 0) }
        let tracker = ProgressTracker(total: total, callback: progress)
        var results: [DiffReport.TensorDifference] = []
        var shortcuts = 0, compared = 0
        for (ta, tb) in pairs {
            let result = try compareTensor(ta, a, tb, b, options: options, files: (fileA, fileB), tracker: tracker)
            if result.method == .checksum { shortcuts += 1 }
            if result.method == .bytes || result.method == .values { compared += ta.byteCount + tb.byteCount }
            results.append(result)
        }
        DiffReport.sortWorstFirst(&results)

        let (metadata, notes) = MetadataComparison.compare(a, b, ignoring: options.ignoredMetadata)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return DiffReport(
            a: side(a, tensors: tensorsA.count), b: side(b, tensors: tensorsB.count), tolerance: options.tolerance,
            tensors: results, onlyInA: onlyInA, onlyInB: onlyInB, metadata: metadata, notes: notes,
            checksumShortcuts: shortcuts, bytesCompared: compared, seconds: seconds)
    }

    private static func compareTensor(
        _ ta: CanonicalTensor, _ a: CanonicalModel, _ tb: CanonicalTensor, _ b: CanonicalModel,
        options: Options, files: (String, String), tracker: ProgressTracker
    ) throws -> DiffReport.TensorDifference {
        var result = DiffReport.TensorDifference(a: entry(ta), b: entry(tb), status: .identical, method: .bytes, comparison: nil)
        guard ta.shape == tb.shape else {
            result.status = .shapeChanged
            result.method = .none
            return result
        }
        let bytes = ta.byteCount + tb.byteCount
        if options.useChecksums, ta.type == tb.type, let x = kilnInfo(ta, a), let y = kilnInfo(tb, b), x.checksum == y.checksum {
            result.method = .checksum
            result.comparison = .identical(elements: ta.elementCount, tolerance: options.tolerance)
            tracker.finish(bytes)
            return result
        }
        let comparer = TensorPairComparer(
            a: try CanonicalTensorSource(ta, in: a, file: files.0), b: try CanonicalTensorSource(tb, in: b, file: files.1),
            tolerance: options.tolerance, threads: max(1, options.threads), chunkElements: max(1, options.chunkElements),
            progress: { tracker.advance($0) })
        tracker.begin(bytes)
        defer { tracker.finish(bytes) }
        if ta.type == tb.type, try comparer.bytesEqual() {
            result.comparison = .identical(elements: ta.elementCount, tolerance: options.tolerance)
            return result
        }
        tracker.begin(bytes)
        let comparison = try comparer.statistics()
        result.method = .values
        result.comparison = comparison
        if !comparison.withinTolerance {
            result.status = .changed
        } else if ta.type != tb.type && comparison.valuesEqual {
            result.status = .identical
        } else {
            // Same type with different bytes but no difference in value (−0/+0, NaN payloads),
            // or differences the tolerance allows.
            result.status = .withinTolerance
        }
        return result
    }

    /// The `.kiln` table entry behind a canonical tensor read as stored (so its checksum is the
    /// checksum of the canonical bytes).
    private static func kilnInfo(_ tensor: CanonicalTensor, _ model: CanonicalModel) -> TensorInfo? {
        guard tensor.transform == .none, let kiln = model.reader as? KilnFile else { return nil }
        return kiln.tensor(named: tensor.source.name)
    }

    private static func entry(_ tensor: CanonicalTensor) -> DiffReport.TensorEntry {
        DiffReport.TensorEntry(name: tensor.name, type: tensor.type, shape: tensor.shape)
    }

    private static func side(_ model: CanonicalModel, tensors: Int) -> DiffReport.Side {
        DiffReport.Side(
            path: model.reader.paths.first ?? "", format: model.reader.formatName, origin: MetadataComparison.origin(model),
            architecture: model.config?.architecture ?? model.reader.metadata["general.architecture"]?.stringValue,
            tensorCount: tensors, warnings: model.warnings)
    }
}

/// Bytes done across tensors for the progress callback. A tensor compared in two passes
/// (bytes, then values) restarts its share, so the total never runs past 100%.
private final class ProgressTracker: @unchecked Sendable {
    // Sendable: guarded by `lock`.
    private let lock = NSLock()
    private let total: Int
    private let callback: ((Int, Int) -> Void)?
    private var finished = 0
    private var current = 0
    private var limit = 0

    init(total: Int, callback: ((Int, Int) -> Void)?) {
        self.total = total
        self.callback = callback
    }

    func begin(_ bytes: Int) {
        lock.lock(); current = 0; limit = bytes; lock.unlock()
    }

    func advance(_ bytes: Int) {
        lock.lock()
        current = min(limit, current + bytes)
        let done = finished + current
        lock.unlock()
        callback?(done, total)
    }

    func finish(_ bytes: Int) {
        lock.lock()
        finished += bytes
        current = 0
        limit = 0
        let done = finished
        lock.unlock()
        callback?(done, total)
    }
}
